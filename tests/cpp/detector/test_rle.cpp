// COCO RLE masks on hand-checked cases; tests/python/test_coco_eval_parity.py
// compares them with pycocotools on random ones.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <stdexcept>
#include <vector>

#include "detector/eval/rle_tensor.h"

namespace roiserve::eval {

// Failure messages show the counts.
void PrintTo(const Rle& rle, std::ostream* out) {
  *out << rle.height << "x" << rle.width << " {";
  for (size_t i = 0; i < rle.counts.size(); ++i) *out << (i ? ", " : "") << rle.counts[i];
  *out << "}";
}

namespace {

// Row-major; column by column it reads 0001 1100 1110 0000.
const std::vector<uint8_t> kMask4x4 = {
    0, 1, 1, 0,  //
    0, 1, 1, 0,  //
    0, 0, 1, 0,  //
    1, 0, 0, 0,  //
};

std::vector<uint8_t> random_mask(std::mt19937& random, int64_t height, int64_t width) {
  std::bernoulli_distribution foreground(std::uniform_real_distribution<double>(0, 1)(random));
  std::vector<uint8_t> mask(height * width);
  for (uint8_t& pixel : mask) pixel = foreground(random);
  return mask;
}

TEST(Rle, EncodesColumnMajorRunsStartingWithZeros) {
  const Rle rle = encode(kMask4x4.data(), 4, 4);
  EXPECT_EQ(rle.height, 4);
  EXPECT_EQ(rle.width, 4);
  EXPECT_EQ(rle.counts, (std::vector<uint32_t>{3, 3, 2, 3, 5}));
  EXPECT_EQ(area(rle), 6);
  EXPECT_EQ(to_bbox(rle), (Box{0, 0, 3, 4}));
  EXPECT_EQ(decode(rle), kMask4x4);
}

TEST(Rle, MaskStartingWithForegroundHasEmptyFirstRun) {
  const std::vector<uint8_t> full(6, 1);
  EXPECT_EQ(encode(full.data(), 2, 3).counts, (std::vector<uint32_t>{0, 6}));
  const std::vector<uint8_t> empty(6, 0);
  EXPECT_EQ(encode(empty.data(), 2, 3).counts, (std::vector<uint32_t>{6}));
  EXPECT_EQ(encode(nullptr, 0, 5).counts, (std::vector<uint32_t>{0}));
  EXPECT_EQ(to_bbox(encode(empty.data(), 2, 3)), (Box{0, 0, 0, 0}));
}

TEST(Rle, NonzeroBytesAreForeground) {
  const std::vector<uint8_t> mask = {0, 1, 2, 255};
  EXPECT_EQ(encode(mask.data(), 1, 4).counts, (std::vector<uint32_t>{1, 3}));
}

TEST(Rle, TensorOverloadsMatchPointerOnes) {
  const at::Tensor bytes = at::from_blob(const_cast<uint8_t*>(kMask4x4.data()), {4, 4}, at::kByte);
  EXPECT_EQ(encode(bytes), encode(kMask4x4.data(), 4, 4));
  EXPECT_EQ(encode(bytes.to(at::kBool)), encode(kMask4x4.data(), 4, 4));
  // A non-contiguous view: the transposed mask.
  EXPECT_EQ(encode(bytes.t()).counts, (std::vector<uint32_t>{1, 2, 2, 2, 3, 1, 1, 1, 3}));
  EXPECT_EQ(encode_patch(bytes, 1, 1, 5, 6), encode_patch(kMask4x4.data(), 4, 4, 1, 1, 5, 6));
  EXPECT_THROW(encode(at::zeros({2, 2, 2}, at::kByte)), std::invalid_argument);
  EXPECT_THROW(encode(at::zeros({2, 2}, at::kFloat)), std::invalid_argument);
}

TEST(Rle, CompressedStringOfHandCheckedCounts) {
  // 3, 3 and 2 as they are, then 3 - 3 = 0 and 5 - 2 = 3: one character each.
  EXPECT_EQ(to_compressed_string(encode(kMask4x4.data(), 4, 4)), "33203");
  // 1, 10 (':'), 2, then 1 - 10 = -9: low five bits 10111 = 23 ('G') carry the
  // sign, so no second character; then 2 - 2 = 0.
  EXPECT_EQ(to_compressed_string(Rle{4, 4, {1, 10, 2, 1, 2}}), "1:2G0");
  // 1000 = 31 * 32 + 8: 8 | more ('X'), 31 | more ('o', as 31's top bit would
  // read as a sign), 0 ('0').
  EXPECT_EQ(to_compressed_string(Rle{1, 1000, {1000}}), "Xo0");
  EXPECT_EQ(from_compressed_string("Xo0", 1, 1000).counts, (std::vector<uint32_t>{1000}));
  EXPECT_EQ(from_compressed_string("1:2G0", 4, 4).counts,
            (std::vector<uint32_t>{1, 10, 2, 1, 2}));
}

TEST(Rle, CompressedStringRoundTripsLargeAndFallingCounts) {
  std::mt19937 random(7);
  // 65535 x 65537 = 2^32 - 2^16 - 1 pixels: counts up to the 32-bit limit.
  const int64_t height = 65535, width = 65537;
  const uint64_t pixels = static_cast<uint64_t>(height) * width;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint64_t> cuts = {0, pixels};
    const int num_cuts = std::uniform_int_distribution<int>(0, 12)(random);
    for (int i = 0; i < num_cuts; ++i) {
      // Cuts near both ends and anywhere: runs from 0 to nearly all pixels.
      const uint64_t span = trial % 2 ? pixels : 5000;
      cuts.push_back(std::uniform_int_distribution<uint64_t>(0, span)(random));
    }
    std::sort(cuts.begin(), cuts.end());
    Rle rle{height, width, {}};
    for (size_t i = 1; i < cuts.size(); ++i) rle.counts.push_back(cuts[i] - cuts[i - 1]);
    const std::string text = to_compressed_string(rle);
    EXPECT_EQ(from_compressed_string(text, height, width), rle) << text;
  }
}

TEST(Rle, RejectsMalformedStrings) {
  EXPECT_THROW(from_compressed_string("3320", 4, 4), std::invalid_argument);    // sums to 11
  EXPECT_THROW(from_compressed_string("332 3", 4, 4), std::invalid_argument);   // bad character
  EXPECT_THROW(from_compressed_string("3320p", 4, 4), std::invalid_argument);   // past 'o'
  EXPECT_THROW(from_compressed_string("33203X", 4, 4), std::invalid_argument);  // ends mid-number
  EXPECT_THROW(from_compressed_string("XXXXXXXX0", 4, 4), std::invalid_argument);  // too long
  EXPECT_THROW(from_compressed_string("3G", 4, 4), std::invalid_argument);      // negative count
  EXPECT_THROW(from_compressed_string("", -1, 4), std::invalid_argument);
}

TEST(Rle, RejectsCountsThatDoNotCoverTheImage) {
  const Rle short_counts{4, 4, {3, 3, 2}};
  EXPECT_THROW(decode(short_counts), std::invalid_argument);
  EXPECT_THROW(area(short_counts), std::invalid_argument);
  EXPECT_THROW(to_bbox(short_counts), std::invalid_argument);
  EXPECT_THROW(to_compressed_string(short_counts), std::invalid_argument);
  EXPECT_THROW(merge({short_counts}), std::invalid_argument);
  EXPECT_THROW(encode(nullptr, 70000, 70000), std::invalid_argument);  // over 2^32 pixels
}

TEST(Rle, PatchEncodingEqualsEncodingThePastedMask) {
  std::mt19937 random(3);
  std::uniform_int_distribution<int64_t> size(0, 9), offset(-12, 12);
  for (int trial = 0; trial < 2000; ++trial) {
    const int64_t height = size(random), width = size(random);
    const int64_t patch_height = size(random), patch_width = size(random);
    const int64_t top = offset(random), left = offset(random);
    const std::vector<uint8_t> patch = random_mask(random, patch_height, patch_width);
    std::vector<uint8_t> pasted(height * width, 0);
    for (int64_t y = 0; y < patch_height; ++y) {
      for (int64_t x = 0; x < patch_width; ++x) {
        if (top + y >= 0 && top + y < height && left + x >= 0 && left + x < width) {
          pasted[(top + y) * width + left + x] = patch[y * patch_width + x];
        }
      }
    }
    EXPECT_EQ(encode_patch(patch.data(), patch_height, patch_width, top, left, height, width),
              encode(pasted.data(), height, width))
        << "patch " << patch_height << "x" << patch_width << " at (" << top << ", " << left
        << ") in " << height << "x" << width;
  }
}

TEST(Rle, DecodeInvertsEncode) {
  std::mt19937 random(5);
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t height = trial % 13, width = trial % 7 + 1;
    const std::vector<uint8_t> mask = random_mask(random, height, width);
    EXPECT_EQ(decode(encode(mask.data(), height, width)), mask);
  }
}

TEST(Rle, BoxOfRunsCrossingColumns) {
  // 3 x 3: (row 2, column 0) and (row 0, column 1) are one run across the
  // column break, so the box spans all rows.
  const std::vector<uint8_t> mask = {
      0, 1, 0,  //
      0, 0, 0,  //
      1, 0, 0,  //
  };
  const Rle rle = encode(mask.data(), 3, 3);
  EXPECT_EQ(rle.counts, (std::vector<uint32_t>{2, 2, 5}));
  EXPECT_EQ(to_bbox(rle), (Box{0, 0, 2, 3}));
  EXPECT_EQ(area(rle), 2);
}

TEST(Rle, PolygonCoversThePixelCentresInside) {
  // Corners at 0.5 and 2.5: on the 5x grid (3, 3) - (13, 13). Pixel columns 1
  // and 2 have their centres (fine x 7 and 12) inside; the top edge crosses
  // them at fine y 3, which rounds up to row 1, the bottom edge at 13, to row
  // 3: runs from position 5 (column 1, row 1) to 7 and from 9 to 11.
  const Rle square = from_polygon({0.5, 0.5, 0.5, 2.5, 2.5, 2.5, 2.5, 0.5}, 4, 4);
  EXPECT_EQ(square.counts, (std::vector<uint32_t>{5, 2, 2, 2, 5}));
  EXPECT_EQ(from_bbox({0.5, 0.5, 2, 2}, 4, 4), square);
  // The same square walked the other way round.
  EXPECT_EQ(from_polygon({0.5, 0.5, 2.5, 0.5, 2.5, 2.5, 0.5, 2.5}, 4, 4), square);
}

TEST(Rle, DegeneratePolygons) {
  EXPECT_EQ(from_polygon({}, 3, 4).counts, (std::vector<uint32_t>{12}));
  EXPECT_EQ(from_polygon({1, 1}, 3, 4).counts, (std::vector<uint32_t>{12}));
  // Repeated vertices change nothing.
  EXPECT_EQ(from_polygon({0.5, 0.5, 0.5, 0.5, 0.5, 2.5, 2.5, 2.5, 2.5, 0.5, 2.5, 0.5}, 4, 4),
            from_bbox({0.5, 0.5, 2, 2}, 4, 4));
  // Entirely outside the image.
  EXPECT_EQ(from_bbox({-10, -10, 5, 5}, 4, 4).counts, (std::vector<uint32_t>{16}));
  EXPECT_THROW(from_polygon({1, 2, 3}, 4, 4), std::invalid_argument);
  EXPECT_THROW(from_polygon({0, 0, 1, 1e9, 2, 0}, 4, 4), std::invalid_argument);
  EXPECT_THROW(from_polygon({0, 0, 1, NAN, 2, 0}, 4, 4), std::invalid_argument);
}

TEST(Rle, MergeIsTheUnion) {
  std::mt19937 random(11);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t height = 1 + trial % 6, width = 1 + trial % 5;
    std::vector<Rle> rles;
    std::vector<uint8_t> union_mask(height * width, 0);
    for (int i = 0; i < 1 + trial % 4; ++i) {
      const std::vector<uint8_t> mask = random_mask(random, height, width);
      rles.push_back(encode(mask.data(), height, width));
      for (size_t p = 0; p < mask.size(); ++p) union_mask[p] |= mask[p];
    }
    EXPECT_EQ(merge(rles), encode(union_mask.data(), height, width));
  }
  // Empty runs in the inputs stay, as in pycocotools.
  EXPECT_EQ(merge({Rle{2, 2, {2, 0, 2}}, Rle{2, 2, {4}}}).counts, (std::vector<uint32_t>{2, 0, 2}));
  EXPECT_THROW(merge({}), std::invalid_argument);
  EXPECT_THROW(merge({Rle{2, 2, {4}}, Rle{1, 4, {4}}}), std::invalid_argument);
}

TEST(Rle, MaskIou) {
  // A: the 2 x 2 square at rows/columns 1..2. B: rows 2..3, columns 0..2.
  const Rle a = from_bbox({1, 1, 2, 2}, 4, 4);
  const Rle b = from_bbox({0, 2, 3, 2}, 4, 4);
  ASSERT_EQ(area(a), 4);
  ASSERT_EQ(area(b), 6);
  EXPECT_DOUBLE_EQ(iou(a, b, false), 2.0 / 8.0);
  EXPECT_DOUBLE_EQ(iou(b, a, false), 2.0 / 8.0);
  // Against a crowd region: intersection over the detection's area.
  EXPECT_DOUBLE_EQ(iou(a, b, true), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(iou(b, a, true), 2.0 / 6.0);
  EXPECT_EQ(iou(a, from_bbox({3, 3, 1, 1}, 4, 4), false), 0.0);
  EXPECT_EQ(iou(a, a, false), 1.0);
  EXPECT_THROW(iou(a, Rle{2, 8, {16}}, false), std::invalid_argument);
}

TEST(Rle, BoxIou) {
  EXPECT_DOUBLE_EQ(iou(Box{0, 0, 10, 10}, Box{5, 5, 10, 10}, false), 25.0 / 175.0);
  EXPECT_DOUBLE_EQ(iou(Box{0, 0, 10, 10}, Box{5, 5, 10, 10}, true), 25.0 / 100.0);
  EXPECT_DOUBLE_EQ(iou(Box{2, 2, 4, 4}, Box{0, 0, 10, 10}, true), 1.0);
  EXPECT_EQ(iou(Box{0, 0, 10, 10}, Box{10, 0, 10, 10}, false), 0.0);  // touching
  EXPECT_EQ(iou(Box{0, 0, 0, 10}, Box{0, 0, 10, 10}, false), 0.0);   // no width
}

}  // namespace
}  // namespace roiserve::eval
