#pragma once
// `sluice dlq list | show | replay --config FILE`: the dead-letter queue
// (`<data_dir>/dlq/*.ndjson`, see dead_letter.h) for people.
//
//   list     one line per file: records, bytes, first and last time, the most
//            frequent reasons
//   show     every record: time, component, reason, peer, and the original
//            event (`--file NAME` for one file, `--limit N`)
//   replay   sends every event through the config's outputs (not its inputs,
//            rules or persisted queue) and deletes each file once all of its
//            events were delivered or dead-lettered again (into a new file,
//            with the new reason). A file still being written by a running
//            sluice (locked) is skipped.

#include <ostream>
#include <string>
#include <vector>

namespace sluice {

// Returns the exit code.
int RunDlqCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace sluice
