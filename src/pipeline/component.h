#pragma once
// The component interfaces (Input, Sink), the context factories get, and the
// registry that finds a component by its `type:` name in the config.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/config_reader.h"
#include "common/metrics.h"
#include "pipeline/batch.h"

namespace sluice {

class DeadLetterQueue;

// The dotted field paths the pipeline extracts from every event, registered by
// components while they are built, and by a rules reload while the pipeline
// runs. A field's index is its position in Batch::field(); paths are only ever
// appended, so an index stays valid for the registry's lifetime.
//
// Thread-safe: Register appends under a lock to a copy-on-write list and bumps
// the generation; readers take an immutable snapshot. Pipeline workers compare
// generation() (one atomic load) once per batch and rebuild their parser when
// it changed.
class FieldRegistry {
 public:
  using Paths = std::vector<std::string>;
  FieldRegistry();
  FieldRegistry(const FieldRegistry& other);

  // Returns the index of `path` (registering it if new).
  int Register(std::string_view path);
  int Find(std::string_view path) const;
  // A copy of the paths, in index order.
  Paths paths() const { return *Snapshot(); }
  // The paths now (immutable; valid as long as the pointer is held), and the
  // generation they belong to.
  std::shared_ptr<const Paths> Snapshot(uint64_t* generation = nullptr) const;
  // Changes (grows) whenever a path is added.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  size_t size() const { return size_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Paths> paths_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> size_{0};
};

// Where inputs push their batches: the pipeline's bounded queue.
class BatchReceiver {
 public:
  virtual ~BatchReceiver() = default;
  // Takes `batch` if there is room and returns true. Otherwise leaves `batch`
  // with the caller, returns false and calls `on_space` once (from another
  // thread) when there may be room: the caller then tries again. An input must
  // not read more from its peers while it holds a rejected batch.
  virtual bool TryPush(BatchPtr& batch, std::function<void()> on_space) = 0;
  // Work the receiver may do on the input's own thread before TryPush, while
  // the batch's bytes are still in that core's cache (the pipeline parses the
  // events there). Never blocks; optional (TryPush's consumer does it
  // otherwise), and calling it again for the same batch costs nothing.
  virtual void Prepare(Batch* batch) { (void)batch; }
};

struct ComponentContext {
  MetricsRegistry* metrics = nullptr;
  FieldRegistry* fields = nullptr;
  DeadLetterQueue* dead_letters = nullptr;
  std::string data_dir;
  // `pipeline.queue.type: persisted`: what is ACKed is on disk and may be
  // replayed after a crash, so sinks default to deterministic document ids.
  bool persisted_queue = false;
  // True for `sluice check`: build and validate, never bind or open anything.
  bool check_only = false;
};

class Input {
 public:
  virtual ~Input() = default;
  virtual std::string_view name() const = 0;
  // Binds and starts serving; batches go to `receiver`.
  virtual absl::Status Start(BatchReceiver* receiver) = 0;
  // Stops accepting new connections or datagrams (first step of shutdown).
  // An input with acknowledgements (beats) also stops reading its open
  // connections: what it reads now could not be delivered and ACKed before
  // it stops, yet the detectors would count it, and again when the client
  // resends it after the restart.
  virtual void StopAccepting() = 0;
  // Batches read (and already seen by the detectors) that the receiver has
  // not taken yet (backpressure); shutdown waits for them to be taken before
  // it drains the pipeline.
  virtual size_t held_batches() const { return 0; }
  // Closes everything and joins threads. Batches not yet safe are not ACKed.
  virtual void Stop() = 0;
  // Address actually bound (for `listen: 127.0.0.1:0` in tests).
  virtual std::string bound_address() const { return ""; }
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual std::string_view name() const = 0;
  virtual absl::Status Start() = 0;
  // Takes one hold on `batch` (already added by the pipeline) and releases it
  // once every event of the batch is delivered or dead-lettered. May block the
  // calling pipeline worker while the sink's own queue is full: that is how a
  // slow destination slows the inputs.
  virtual void Submit(BatchPtr batch) = 0;
  // Tries to deliver what it holds until `deadline_ms` (wall clock), then stops.
  virtual void Stop(int64_t deadline_ms) = 0;
  // Bytes waiting in the sink (for /metrics and tests).
  virtual size_t queued_bytes() const { return 0; }
};

// Sees every parsed batch, synchronously on the pipeline worker that parsed it,
// before the batch goes to the sinks (detectors are observers). Must not keep
// references into the batch after returning, and must be fast: it runs on the
// data path. Called concurrently from several workers.
class BatchObserver {
 public:
  virtual ~BatchObserver() = default;
  virtual void Observe(const Batch& batch) = 0;
};

// Factories read their options from `cfg` (errors go to cfg.errors()) and must
// call cfg.Finish(). They return nullptr when the options are invalid.
using InputFactory = std::function<std::unique_ptr<Input>(ConfigMap& cfg, ComponentContext& ctx)>;
using SinkFactory = std::function<std::unique_ptr<Sink>(ConfigMap& cfg, ComponentContext& ctx)>;

class ComponentRegistry {
 public:
  static ComponentRegistry& Get();
  // Returns false if the name is taken (a duplicate is reported at startup).
  bool RegisterInput(std::string name, InputFactory f);
  bool RegisterSink(std::string name, SinkFactory f);
  const InputFactory* FindInput(std::string_view name) const;
  const SinkFactory* FindSink(std::string_view name) const;
  std::vector<std::string> InputNames() const;
  std::vector<std::string> SinkNames() const;
  const std::vector<std::string>& duplicates() const { return duplicates_; }

 private:
  std::map<std::string, InputFactory, std::less<>> inputs_;
  std::map<std::string, SinkFactory, std::less<>> sinks_;
  std::vector<std::string> duplicates_;
};

#define SLUICE_CONCAT_INNER(a, b) a##b
#define SLUICE_CONCAT(a, b) SLUICE_CONCAT_INNER(a, b)
#define SLUICE_REGISTER_INPUT(type_name, factory) \
  static const bool SLUICE_CONCAT(sluice_input_registered_, __LINE__) = \
      ::sluice::ComponentRegistry::Get().RegisterInput(type_name, factory)
#define SLUICE_REGISTER_SINK(type_name, factory) \
  static const bool SLUICE_CONCAT(sluice_sink_registered_, __LINE__) = \
      ::sluice::ComponentRegistry::Get().RegisterSink(type_name, factory)

}  // namespace sluice

namespace sluice {
// The `component` label of a component: its optional `id:` key, else its type.
inline std::string ReadComponentId(ConfigMap& cfg, std::string_view type) { return cfg.String("id", type); }
}  // namespace sluice
