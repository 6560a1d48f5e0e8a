// Image headers read without decoding, and decoding with its checks, on
// images OpenCV encodes in every accepted format.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <fstream>
#include <iterator>
#include <string>

#include "server/image_decoding.h"
#include "server/image_header.h"

namespace roiserve::server {
namespace {

// A 37 x 23 (width x height) image with a gradient, so that every format
// has something to encode.
cv::Mat test_image() {
  cv::Mat image(23, 37, CV_8UC3);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      image.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uint8_t>(x * 6), static_cast<uint8_t>(y * 10), 128);
    }
  }
  return image;
}

std::string encode(const cv::Mat& image, const std::string& extension) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(extension, image, bytes)) << extension;
  return {bytes.begin(), bytes.end()};
}

struct FormatCase {
  const char* extension;
  ImageFormat format;
};

class EveryFormat : public ::testing::TestWithParam<FormatCase> {};

TEST_P(EveryFormat, HeaderGivesFormatAndSize) {
  const ImageHeader header = read_image_header(encode(test_image(), GetParam().extension));
  EXPECT_EQ(header.format, GetParam().format);
  EXPECT_EQ(header.width, 37u);
  EXPECT_EQ(header.height, 23u);
}

TEST_P(EveryFormat, DecodesToRgb) {
  const at::Tensor image = decode_encoded_image(encode(test_image(), GetParam().extension), 10000);
  ASSERT_EQ(image.sizes(), (at::IntArrayRef{3, 23, 37}));
  EXPECT_EQ(image.scalar_type(), at::kByte);
  // Red was 128 everywhere (the last of OpenCV's BGR): RGB's first channel.
  // JPEG is lossy, so within a few levels.
  EXPECT_NEAR(image[0].to(at::kFloat).mean().item<float>(), 128.0f, 3.0f);
  EXPECT_NEAR(image[2].to(at::kFloat).mean().item<float>(), 6.0f * 18, 3.0f);
}

TEST_P(EveryFormat, CutHeaderIsRefusedWithItsFormat) {
  const std::string bytes = encode(test_image(), GetParam().extension);
  for (size_t length : {size_t{1}, size_t{4}, size_t{12}}) {
    try {
      read_image_header(bytes.substr(0, length));
      ADD_FAILURE() << GetParam().extension << " cut to " << length << " bytes was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_FALSE(std::string(error.what()).empty());
    }
  }
}

TEST_P(EveryFormat, TruncatedDataFailsToDecode) {
  const std::string bytes = encode(test_image(), GetParam().extension);
  EXPECT_THROW(decode_encoded_image(bytes.substr(0, bytes.size() * 2 / 3), 10000),
               std::invalid_argument);
}

TEST_P(EveryFormat, PixelLimitIsCheckedBeforeDecoding) {
  const std::string bytes = encode(test_image(), GetParam().extension);
  try {
    check_encoded_image(bytes, 37 * 23 - 1);
    ADD_FAILURE() << "over the limit by one pixel, accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("37x23 = 851 pixels"), std::string::npos) << error.what();
  }
  EXPECT_NO_THROW(check_encoded_image(bytes, 37 * 23));
}

INSTANTIATE_TEST_SUITE_P(Formats, EveryFormat,
                         ::testing::Values(FormatCase{".png", ImageFormat::kPng},
                                           FormatCase{".jpg", ImageFormat::kJpeg},
                                           FormatCase{".bmp", ImageFormat::kBmp},
                                           FormatCase{".webp", ImageFormat::kWebp},
                                           FormatCase{".tiff", ImageFormat::kTiff}),
                         [](const auto& info) { return format_name(info.param.format); });

TEST(ImageHeader, PngBombIsMeasuredFromItsHeader) {
  std::string png = encode(test_image(), ".png");
  // IHDR width and height, big-endian, at bytes 16 and 20: 30000 x 30000.
  const std::string size("\x00\x00\x75\x30\x00\x00\x75\x30", 8);
  png.replace(16, 8, size);
  const ImageHeader header = read_image_header(png);
  EXPECT_EQ(header.width, 30000u);
  EXPECT_EQ(header.height, 30000u);
  EXPECT_THROW(check_encoded_image(png, 4096 * 4096), std::invalid_argument);
}

TEST(ImageHeader, WebpLossyAndLosslessBothRead) {
  std::vector<uint8_t> lossless, lossy;
  ASSERT_TRUE(cv::imencode(".webp", test_image(), lossless, {cv::IMWRITE_WEBP_QUALITY, 101}));
  ASSERT_TRUE(cv::imencode(".webp", test_image(), lossy, {cv::IMWRITE_WEBP_QUALITY, 80}));
  for (const auto& bytes : {lossless, lossy}) {
    const ImageHeader header = read_image_header({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    EXPECT_EQ(header.width, 37u);
    EXPECT_EQ(header.height, 23u);
  }
}

TEST(ImageHeader, UnknownAndEmptyBytesAreRefused) {
  EXPECT_THROW(read_image_header(""), std::invalid_argument);
  EXPECT_THROW(read_image_header("GIF89a........"), std::invalid_argument);
  EXPECT_THROW(read_image_header(std::string(100, '\0')), std::invalid_argument);
}

TEST(ImageHeader, ZeroSizeIsRefused) {
  std::string png = encode(test_image(), ".png");
  png.replace(16, 4, std::string(4, '\0'));
  EXPECT_THROW(read_image_header(png), std::invalid_argument);
}

TEST(ImageHeader, JpegWithoutEndMarkerIsTruncated) {
  const std::string jpeg = encode(test_image(), ".jpg");
  EXPECT_TRUE(jpeg_has_end_marker(jpeg));
  EXPECT_FALSE(jpeg_has_end_marker(jpeg.substr(0, jpeg.size() - 2)));
  // libjpeg itself would decode the cut file with grey rows.
  EXPECT_THROW(decode_encoded_image(jpeg.substr(0, jpeg.size() - 40), 10000), std::invalid_argument);
}

TEST(ImageHeader, JpegSegmentLengthsThatLieStayInBounds) {
  std::string jpeg = encode(test_image(), ".jpg");
  // The first segment after SOI (APP0) claims to run to 0xFFFF bytes.
  jpeg[4] = '\xFF';
  jpeg[5] = '\xFF';
  EXPECT_THROW(read_image_header(jpeg), std::invalid_argument);
}

TEST(ImageHeader, AnImageDecodingToAnotherSizeThanItsHeaderIsRefused) {
  // Found by fuzz_image_decoding: a TIFF whose tags contradict each other, so
  // libtiff decodes another size than the header check measured.
  std::ifstream file(std::string(ROISERVE_SOURCE_DIR) +
                         "/tests/fuzz/corpus/image_decoding/regression-tiff-decodes-to-another-size",
                     std::ios::binary);
  const std::string tiff((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(tiff.empty());
  const ImageHeader header = check_encoded_image(tiff, 1 << 20);
  const std::string declared = std::to_string(header.width) + "x" + std::to_string(header.height);
  try {
    decode_encoded_image(tiff, 1 << 20);
    ADD_FAILURE() << "decoded although its size is not the header's " << declared;
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("not the " + declared + " its header declares"),
              std::string::npos)
        << error.what();
  }
}

TEST(RawPixels, LayoutsAndTypesGiveTheSameImage) {
  const at::Tensor rgb = at::randint(0, 256, {3, 5, 7}, at::kByte);
  const at::Tensor hwc = rgb.permute({1, 2, 0}).contiguous();
  auto raw = [](const at::Tensor& data, bool planar, bool float32, uint64_t channels) {
    RawPixels pixels;
    pixels.height = 5;
    pixels.width = 7;
    pixels.channels = channels;
    pixels.planar = planar;
    pixels.float32 = float32;
    pixels.data = {static_cast<const char*>(data.data_ptr()), data.nbytes()};
    return pixels;
  };
  EXPECT_TRUE(decode_raw_pixels(raw(hwc, false, false, 3), 100).equal(rgb));
  EXPECT_TRUE(decode_raw_pixels(raw(rgb, true, false, 3), 100).equal(rgb));
  const at::Tensor floats = hwc.to(at::kFloat).div(255).contiguous();
  EXPECT_TRUE(decode_raw_pixels(raw(floats, false, true, 3), 100).equal(rgb));
  const at::Tensor rgba = at::cat({hwc, at::full({5, 7, 1}, 9, at::kByte)}, 2).contiguous();
  EXPECT_TRUE(decode_raw_pixels(raw(rgba, false, false, 4), 100).equal(rgb));
  const at::Tensor gray = rgb[0].contiguous();
  EXPECT_TRUE(decode_raw_pixels(raw(gray, false, false, 1), 100).equal(gray.expand({3, 5, 7})));
}

TEST(RawPixels, BadBuffersAreRefusedNamingTheProblem) {
  const std::string bytes(5 * 7 * 3, 'x');
  RawPixels pixels;
  pixels.height = 5;
  pixels.width = 7;
  pixels.channels = 3;
  pixels.data = bytes;
  EXPECT_NO_THROW(check_raw_pixels(pixels, 35));
  auto message = [](RawPixels candidate, uint64_t limit) {
    try {
      check_raw_pixels(candidate, limit);
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message(pixels, 34).find("over this server's limit"), std::string::npos);
  RawPixels wrong = pixels;
  wrong.channels = 2;
  EXPECT_NE(message(wrong, 35).find("1, 3 or 4 channels"), std::string::npos);
  wrong = pixels;
  wrong.data = wrong.data.substr(1);
  EXPECT_NE(message(wrong, 35).find("needs 105"), std::string::npos);
  wrong = pixels;
  wrong.height = 0;
  EXPECT_NE(message(wrong, 35).find("> 0"), std::string::npos);
  wrong = pixels;
  wrong.float32 = true;
  EXPECT_NE(message(wrong, 35).find("float32 needs 420"), std::string::npos);
}

TEST(RawPixels, NonFiniteFloatsAreRefused) {
  std::vector<float> samples(3, 0.5f);
  samples[1] = std::nanf("");
  RawPixels pixels;
  pixels.height = 1;
  pixels.width = 1;
  pixels.channels = 3;
  pixels.float32 = true;
  pixels.data = {reinterpret_cast<const char*>(samples.data()), samples.size() * sizeof(float)};
  EXPECT_THROW(decode_raw_pixels(pixels, 1), std::invalid_argument);
}

}  // namespace
}  // namespace roiserve::server
