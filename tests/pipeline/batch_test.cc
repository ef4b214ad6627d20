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

// ResizeFields(count, false) keeps the values; ClearFields(e) then clears
// event e's, whole, and no row before it nor any row starting 32 bytes or
// more past its end (its last store may reach into the next rows, which the
// parser clears before it writes there; past the last row it lands in the
// allocation's padding).
TEST(BatchTest, ClearFieldsClearsOneRowAtATime) {
  const FieldValue stale{Span{7, 9}, FieldKind::kString, true};
  for (size_t count : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{8}, size_t{12}}) {
    Batch b;
    for (int i = 0; i < 40; ++i) b.Append("{}");
    b.ResizeFields(count);
    for (size_t e = 0; e < 40; ++e) {
      for (size_t f = 0; f < count; ++f) b.field(e, f) = stale;
    }
    b.ResizeFields(count, false);
    ASSERT_EQ(b.field(39, count - 1).kind, FieldKind::kString) << "ResizeFields(count, false) cleared";
    for (size_t e = 0; e < 40; ++e) {
      b.ClearFields(e);
      for (size_t x = 0; x < 40; ++x) {
        if (x > e && (x - e - 1) * count * sizeof(FieldValue) < 32) continue;
        for (size_t f = 0; f < count; ++f) {
          const FieldValue& v = b.field(x, f);
          if (x <= e) {
            ASSERT_EQ(v.kind, FieldKind::kMissing) << count << " " << e << " " << x << " " << f;
            ASSERT_EQ(v.span.off, 0u);
            ASSERT_EQ(v.span.len, 0u);
            ASSERT_FALSE(v.escaped);
          } else {
            ASSERT_EQ(v.kind, FieldKind::kString) << count << " " << e << " " << x << " " << f;
            ASSERT_EQ(v.span.len, 9u);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace sluice
