#include "pipeline/batch.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

// ResizeFields leaves every value as FieldValue{} (missing), also where the
// batch held values before (the storage is reused, and zeroed by bytes).
TEST(BatchTest, ResizeFieldsLeavesEveryValueMissing) {
  Batch b;
  for (int i = 0; i < 100; ++i) b.Append("{\"a\":1}");
  b.ResizeFields(3);
  for (size_t e = 0; e < 100; ++e) {
    for (size_t f = 0; f < 3; ++f) {
      FieldValue& v = b.field(e, f);
      EXPECT_EQ(v.kind, FieldKind::kMissing);
      EXPECT_EQ(v.span.off, 0u);
      EXPECT_EQ(v.span.len, 0u);
      EXPECT_FALSE(v.escaped);
      v = FieldValue{Span{7, 9}, FieldKind::kString, true};
    }
  }
  for (size_t count : {size_t{2}, size_t{3}, size_t{5}, size_t{0}, size_t{4}}) {
    b.ResizeFields(count);
    ASSERT_EQ(b.field_count(), count);
    for (size_t e = 0; e < 100; ++e) {
      for (size_t f = 0; f < count; ++f) {
        FieldValue& v = b.field(e, f);
        EXPECT_EQ(v.kind, FieldKind::kMissing) << count << " " << e << " " << f;
        EXPECT_EQ(v.span.len, 0u);
        EXPECT_FALSE(v.escaped);
        v = FieldValue{Span{1, 2}, FieldKind::kNumber, true};
      }
    }
  }
}

}  // namespace
}  // namespace sluice
