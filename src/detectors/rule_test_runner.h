#pragma once
// `sluice test FILE...`: rule unit tests in the spirit of `promtool test rules`.
//
//   rule_files: [../shop/orders.yml]     # relative to the test file
//   evaluation_interval: 1s              # optional
//   allowed_lateness: 0s                 # optional
//   tests:
//     - name: a burst of FATAL fires within a minute
//       start: 2026-11-21T10:00:00Z      # optional
//       input:
//         - at: 0s                       # offset from start
//           count: 5                     # compact series: 5 events...
//           every: 2s                    # ...2 s apart
//           event: {service.name: mes-core, log.level: FATAL}
//       expect:
//         - at: 1m
//           firing:
//             - labels: {alertname: FatalLogged, service_name: mes-core}
//               annotations: {summary: "mes-core logged 5 FATAL events in 5m"}
//         - at: 10m
//           firing: []
//
// Events are fed in time order and the rules are evaluated every
// evaluation_interval of simulated time, so `for:`, windows and baselines
// behave as in production. At each `expect` point the alerts firing must be
// exactly those listed: each listed alert's labels (and annotations, if given)
// must match one firing alert, and no other alert may fire. The output is a
// readable diff per failure and a closing line "N passed, M failed".

#include <ostream>
#include <string>
#include <vector>

namespace sluice::detectors {

// Returns the process exit code: 0 if every test passed.
int RunRuleTestFiles(const std::vector<std::string>& files, std::ostream& out);

}  // namespace sluice::detectors
