#pragma once
// A capacity scenario (bench/scenarios/*.yml): what traffic to send, how, to
// which sluice configuration, and how to step the offered load. The keys are
// documented in bench/scenarios/README.md.

#include <optional>
#include <string>
#include <vector>

namespace sluice::bench::capacity {

enum class Protocol { kBeats, kSyslogTcp };
enum class EventSource { kSynthetic, kNdjson, kSimulator };

struct Scenario {
  std::string name;  // file name without .yml
  std::string description;

  // events
  EventSource source = EventSource::kSynthetic;
  int event_bytes = 500;         // synthetic Beats events are padded to about this size
  std::string file;              // ndjson: a recorded sample, one event (or syslog line) a line
  std::string simulator_duration = "1h";  // simulator: shop time to generate (at --speed 0)
  std::string simulator_scenario;         // simulator: rules/scenarios/*.yml (empty: a day without faults)
  int simulator_seed = 1;

  // protocol
  Protocol protocol = Protocol::kBeats;
  int compression = 0;  // beats: zlib level, 0 = plain
  int window = 2048;    // beats
  int pipelining = 2;   // beats
  int connections = 1;

  // sluice
  std::string rules;                 // a rule file (empty: none)
  std::string queue = "memory";      // memory | persisted
  std::string sync = "batch";        // persisted queue sync policy
  int workers = 0;                   // pipeline.workers (0 = one per core)

  // load steps
  double calibrate_seconds = 5;      // one unpaced step first: the rate the fractions apply to
  double step_seconds = 6;
  std::vector<double> fractions = {0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.25};
  std::vector<double> rates;         // explicit offered rates (events/s): no calibration
  double drain_seconds = 10;         // after a step, wait at most this long for the endpoint to catch up

  // side by side
  std::string compare;  // "" or "rsyslog" (syslog_tcp only)

  // sizing
  double target_events_per_second = 0;  // 0: no recommendation
  double headroom = 0.3;                // CPU and memory kept free at the target rate
};

// Reads and validates a scenario. Relative paths inside it are taken from the
// current directory (run from the repository root). nullopt with *error.
std::optional<Scenario> LoadScenario(const std::string& path, std::string* error);

const char* ProtocolName(Protocol p);
const char* SourceName(EventSource s);

}  // namespace sluice::bench::capacity
