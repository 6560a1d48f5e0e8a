#include "tools/eval/pr_plot.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "tools/image_io/image_file.h"

namespace roiserve::tools {
namespace {

constexpr int kWidth = 720, kHeight = 540;
constexpr int kLeft = 60, kRight = 200, kTop = 40, kBottom = 50;  // margins around the plot area
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kInk(40, 40, 40), kGrid(220, 220, 220);

cv::Scalar curve_color(size_t index) {
  static constexpr std::array<std::array<int, 3>, 8> kColors = {{{31, 119, 180},
                                                                {255, 127, 14},
                                                                {44, 160, 44},
                                                                {214, 39, 40},
                                                                {148, 103, 189},
                                                                {140, 86, 75},
                                                                {227, 119, 194},
                                                                {127, 127, 127}}};
  const auto& rgb = kColors[index % kColors.size()];
  return cv::Scalar(rgb[0], rgb[1], rgb[2]);
}

cv::Point to_pixel(double recall, double precision) {
  const double x = kLeft + recall * (kWidth - kLeft - kRight);
  const double y = kHeight - kBottom - precision * (kHeight - kTop - kBottom);
  return {static_cast<int>(x + 0.5), static_cast<int>(y + 0.5)};
}

void draw_axes(cv::Mat& canvas, const std::string& title) {
  for (int tick = 0; tick <= 10; ++tick) {
    const double value = tick / 10.0;
    cv::line(canvas, to_pixel(value, 0), to_pixel(value, 1), kGrid, 1);
    cv::line(canvas, to_pixel(0, value), to_pixel(1, value), kGrid, 1);
    char text[8];
    std::snprintf(text, sizeof(text), "%.1f", value);
    if (tick % 2 == 0) {
      cv::putText(canvas, text, to_pixel(value, 0) + cv::Point(-10, 20), kFont, 0.4, kInk, 1,
                  cv::LINE_AA);
      cv::putText(canvas, text, to_pixel(0, value) + cv::Point(-32, 4), kFont, 0.4, kInk, 1,
                  cv::LINE_AA);
    }
  }
  cv::rectangle(canvas, to_pixel(0, 1), to_pixel(1, 0), kInk, 1);
  cv::putText(canvas, "recall", to_pixel(0.5, 0) + cv::Point(-20, 40), kFont, 0.5, kInk, 1,
              cv::LINE_AA);
  cv::putText(canvas, "precision", cv::Point(6, kTop - 12), kFont, 0.5, kInk, 1, cv::LINE_AA);
  cv::putText(canvas, title, cv::Point(kLeft + 80, kTop - 12), kFont, 0.55, kInk, 1, cv::LINE_AA);
}

void draw_curve(cv::Mat& canvas, const PrCurve& curve, const cv::Scalar& color) {
  for (size_t i = 1; i < curve.recall.size(); ++i) {
    if (curve.precision[i - 1] < 0 || curve.precision[i] < 0) continue;
    if (curve.dashed && i % 4 >= 2) continue;
    cv::line(canvas, to_pixel(curve.recall[i - 1], curve.precision[i - 1]),
             to_pixel(curve.recall[i], curve.precision[i]), color, 2, cv::LINE_AA);
  }
}

}  // namespace

void write_pr_plot(const std::vector<PrCurve>& curves, const std::string& title,
                   const std::filesystem::path& path) {
  cv::Mat canvas(kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  draw_axes(canvas, title);
  for (size_t i = 0; i < curves.size(); ++i) {
    // A dashed curve shares the colour of the solid one before it.
    size_t color_index = 0;
    for (size_t j = 0; j < i; ++j) color_index += curves[j + 1].dashed ? 0 : 1;
    const cv::Scalar color = curve_color(color_index);
    draw_curve(canvas, curves[i], color);
    const cv::Point legend(kWidth - kRight + 15, kTop + 10 + 20 * static_cast<int>(i));
    cv::line(canvas, legend, legend + cv::Point(24, 0), color, 2, cv::LINE_AA);
    if (curves[i].dashed) cv::line(canvas, legend + cv::Point(8, 0), legend + cv::Point(16, 0),
                                   cv::Scalar(255, 255, 255), 2);
    cv::putText(canvas, curves[i].label, legend + cv::Point(30, 4), kFont, 0.4, kInk, 1,
                cv::LINE_AA);
  }
  write_png(canvas, path);
}

}  // namespace roiserve::tools
