#include "simulator/scenario.h"

#include <algorithm>

#include "common/config_reader.h"
#include "common/strings.h"
#include "common/timeutil.h"

namespace sluice::simulator {

const char* FaultTypeName(FaultType t) {
  switch (t) {
    case FaultType::kLostOrders: return "lost_orders";
    case FaultType::kDuplicateCalculation: return "duplicate_calculation";
    case FaultType::kOversizeModel: return "oversize_model";
    case FaultType::kRequestStorm: return "request_storm";
    case FaultType::kSilent: return "silent";
    case FaultType::kFatalBurst: return "fatal_burst";
    case FaultType::kFailedCalculations: return "failed_calculations";
  }
  return "?";
}

// The alert names of rules/shop/*.yml.
const char* DefaultExpectedAlert(FaultType t) {
  switch (t) {
    case FaultType::kLostOrders: return "OrderStuck";
    case FaultType::kDuplicateCalculation: return "DuplicateCalculation";
    case FaultType::kOversizeModel: return "OversizeModel";
    case FaultType::kRequestStorm: return "RequestStorm";
    case FaultType::kSilent: return "ServiceSilent";
    case FaultType::kFatalBurst: return "FatalErrors";
    case FaultType::kFailedCalculations: return "OrderStuck";  // reason=failed
  }
  return "";
}

// What else the pack rightly raises for a fault: the same trouble seen by a
// broader rule (rules/README.md, "Faults and the alerts they raise").
std::vector<std::string> DefaultSideEffectAlerts(FaultType t) {
  switch (t) {
    case FaultType::kLostOrders: return {"OrderEventsDropped"};  // when most orders stop at one stage
    case FaultType::kDuplicateCalculation: return {};
    case FaultType::kOversizeModel: return {"ModelSizeOutlier"};
    case FaultType::kRequestStorm: return {"RequestRateSpike", "ApiOverloaded", "ApiServerErrors"};
    case FaultType::kSilent: return {"RequestRateDrop"};
    case FaultType::kFatalBurst: return {};
    case FaultType::kFailedCalculations: return {"MessagesDeadLettered"};
  }
  return {};
}

const std::vector<std::string>& OrderStages() {
  static const std::vector<std::string> s = {"created", "published", "delivered", "model_stored", "calculated",
                                             "status_changed"};
  return s;
}

namespace {
const std::vector<std::string> kTypes = {"lost_orders", "duplicate_calculation", "oversize_model", "request_storm",
                                         "silent", "fatal_burst", "failed_calculations"};
const std::vector<std::string> kServices = {"shop-api", "crm-api", "mes-api", "mes-core", "storage-3d",
                                            "rabbitmq", "shop-db", "mes-db"};
}  // namespace

absl::StatusOr<Scenario> ParseScenario(const std::string& yaml, const std::string& name) {
  ConfigErrors errors;
  YAML::Node root = LoadYamlString(yaml, name, &errors);
  if (!errors.empty()) return errors.ToStatus();
  Scenario sc;
  ConfigMap top(root, name, &errors);
  sc.name = top.String("name", "default");
  std::string start = top.String("start");
  if (start.empty()) {
    sc.start_ms = 0;  // resolved by ShopGenerator: the run ends now
  } else if (!ParseRfc3339Ms(start, &sc.start_ms)) {
    top.Error("start", StrCat("invalid time \"", start, "\", expected RFC 3339 (2026-11-23T08:00:00Z)"));
  }
  sc.duration_ms = top.DurationMs("duration", sc.duration_ms, 1000);
  sc.orders_per_hour = top.Double("orders_per_hour", sc.orders_per_hour, 0, 1e7);
  sc.requests_per_second = top.Double("requests_per_second", sc.requests_per_second, 0, 1e6);
  for (ConfigMap& fc : top.MapList("faults")) {
    Fault f;
    f.line = fc.line();
    std::string type = fc.Enum("type", "", kTypes);
    if (!fc.Has("type")) fc.Error("type", StrCat("required key is missing (one of ", StrJoin(kTypes, ", "), ")"));
    for (size_t i = 0; i < kTypes.size(); ++i) {
      if (type == kTypes[i]) f.type = static_cast<FaultType>(i);
    }
    if (!fc.Has("at")) fc.Error("at", "required key is missing (offset from the start, e.g. 10m)");
    f.at_ms = fc.DurationMs("at", 0);
    f.expected_alert = fc.String("expected_alert", DefaultExpectedAlert(f.type));
    f.side_effect_alerts = fc.Has("side_effect_alerts") ? fc.StringList("side_effect_alerts")
                                                        : DefaultSideEffectAlerts(f.type);
    auto need_service = [&](const char* def) {
      f.service = fc.Enum("service", def, kServices);
    };
    switch (f.type) {
      case FaultType::kLostOrders:
        f.duration_ms = fc.DurationMs("duration", 600'000, 1000);
        f.stage = fc.Enum("stage", "delivered", {OrderStages().begin(), OrderStages().end() - 1});
        f.fraction = fc.Double("fraction", 1, 0, 1);
        f.count = fc.Int("count", 0, 0, 1'000'000'000);
        break;
      case FaultType::kDuplicateCalculation:
        f.count = fc.Int("count", 3, 1, 1'000'000);
        f.repeats = fc.Int("repeats", 3, 2, 1000);
        break;
      case FaultType::kOversizeModel:
        f.size_bytes = fc.Bytes("size", uint64_t{3} << 30, 1);
        break;
      case FaultType::kRequestStorm:
        f.duration_ms = fc.DurationMs("duration", 300'000, 1000);
        need_service("shop-api");
        f.rate = fc.Double("rate", 300, 1, 1e6);
        break;
      case FaultType::kSilent:
        f.duration_ms = fc.DurationMs("duration", 600'000, 1000);
        need_service("mes-api");
        break;
      case FaultType::kFatalBurst:
        f.duration_ms = fc.DurationMs("duration", 60'000, 1000);
        need_service("mes-core");
        f.count = fc.Int("count", 30, 1, 1'000'000);
        break;
      case FaultType::kFailedCalculations:
        f.count = fc.Int("count", 5, 1, 1'000'000);
        break;
    }
    fc.Finish();
    sc.faults.push_back(std::move(f));
  }
  top.Finish();
  if (!errors.empty()) return errors.ToStatus();
  std::stable_sort(sc.faults.begin(), sc.faults.end(), [](const Fault& a, const Fault& b) { return a.at_ms < b.at_ms; });
  return sc;
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  ConfigErrors errors;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return absl::NotFoundError(StrCat(path, ": cannot open the scenario file"));
  std::string text;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  return ParseScenario(text, path);
}

}  // namespace sluice::simulator
