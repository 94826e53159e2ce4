// voice_bench.cpp — Loom's side of bench/voice: builds the background and every task's profiles
// from a job file, scores every candidate against every profile of its task, and writes the
// scores and timings. The same source runs natively and as wasm under node (bench/voice/run.mjs
// runs both and checks that their scores agree to the bit).
//
//   loom_bench_voice JOB.json OUT.json
//   JOB: {"background": [[text of one voice]], "tasks": [{"name", "profiles": [{"name", "references": [text]}],
//         "candidates": [text]}]}
//   A task may give a "cast" (profiles of the other voices, as a ranking task's one profile has);
//   every profile is scored relative to the task's other profiles and its cast (voice::score's
//   cast), and also alone ("score_alone").
//   OUT: {"engine", "tasks": [{"name", "score": [[per profile] per candidate], "score_alone", "confidence"}],
//         "timing": {"background_ms", "profiles_ms", "score_ms", "scored_bytes", "mb_per_s"}}
// Speed is voice::score() on every candidate against its task's first profile (the whole public
// path: measuring the text and comparing), timed separately from the matrix.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "loom/json.hpp"
#include "loom/voice.hpp"

namespace {

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

int fail(const std::string& message) {
  std::fprintf(stderr, "loom_bench_voice: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return fail("usage: loom_bench_voice JOB.json OUT.json");
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) return fail(std::string("cannot read ") + argv[1]);
  std::stringstream buffer;
  buffer << in.rdbuf();
  loom::Json job = loom::Json::parse(buffer.str(), nullptr, false);
  if (job.is_discarded() || !job.contains("background") || !job.contains("tasks")) return fail("malformed job file");

  const double t0 = now_ms();
  auto background = loom::voice::Background::build(job["background"].get<std::vector<std::vector<std::string>>>());
  if (!background) return fail(background.error().format());
  const double background_ms = now_ms() - t0;
  std::fprintf(stderr, "[voice] background: %zu passages in %.0f ms\n", background->passages(), background_ms);

  double profiles_ms = 0, matrix_ms = 0, speed_ms = 0;
  std::uint64_t speed_bytes = 0;
  loom::Json tasks = loom::Json::array();
  const std::size_t total = job["tasks"].size();
  std::size_t done = 0;
  for (const auto& task : job["tasks"]) {
    double t = now_ms();
    std::vector<loom::voice::Profile> profiles;
    for (const auto& p : task["profiles"]) {
      auto profile = loom::voice::Profile::build(p["name"].get<std::string>(),
                                                 p["references"].get<std::vector<std::string>>(), *background);
      if (!profile) return fail(profile.error().format());
      profiles.push_back(std::move(*profile));
    }
    // The cast: a ranking task's other voices ("cast" in the job), or a classification task's
    // other profiles.
    std::vector<loom::voice::Profile> extra;
    if (task.contains("cast")) {
      for (const auto& p : task["cast"]) {
        auto profile = loom::voice::Profile::build(p["name"].get<std::string>(),
                                                   p["references"].get<std::vector<std::string>>(), *background);
        if (!profile) return fail(profile.error().format());
        extra.push_back(std::move(*profile));
      }
    }
    profiles_ms += now_ms() - t;

    t = now_ms();
    loom::Json scores = loom::Json::array(), confidences = loom::Json::array(), alone = loom::Json::array();
    const auto candidates = task["candidates"].get<std::vector<std::string>>();
    for (const auto& candidate : candidates) {
      loom::Json row = loom::Json::array(), crow = loom::Json::array(), arow = loom::Json::array();
      for (std::size_t k = 0; k < profiles.size(); ++k) {
        std::vector<loom::voice::Profile> cast = extra;
        for (std::size_t o = 0; o < profiles.size(); ++o) {
          if (o != k) cast.push_back(profiles[o]);
        }
        const loom::voice::Score s = loom::voice::score(profiles[k], candidate, cast);
        row.push_back(s.score);
        crow.push_back(s.confidence);
        arow.push_back(loom::voice::score(profiles[k], candidate).score);
      }
      scores.push_back(std::move(row));
      confidences.push_back(std::move(crow));
      alone.push_back(std::move(arow));
    }
    matrix_ms += now_ms() - t;

    t = now_ms();
    double sink = 0;
    for (const auto& candidate : candidates) {
      sink += loom::voice::score(profiles.front(), candidate).score;
      speed_bytes += candidate.size();
    }
    speed_ms += now_ms() - t;
    if (sink < 0) std::fprintf(stderr, "impossible\n");

    tasks.push_back({{"name", task["name"]}, {"score", std::move(scores)}, {"score_alone", std::move(alone)},
                     {"confidence", std::move(confidences)}});
    if (++done % 10 == 0 || done == total) std::fprintf(stderr, "\r[voice] %zu/%zu tasks", done, total);
  }
  std::fprintf(stderr, "\n");
#ifdef __EMSCRIPTEN__
  const char* engine = "wasm";
#else
  const char* engine = "native";
#endif
  loom::Json out = {{"engine", engine},
                    {"tasks", std::move(tasks)},
                    {"timing",
                     {{"background_ms", background_ms},
                      {"profiles_ms", profiles_ms},
                      {"matrix_ms", matrix_ms},
                      {"score_ms", speed_ms},
                      {"scored_bytes", speed_bytes},
                      {"mb_per_s", speed_ms > 0 ? static_cast<double>(speed_bytes) / 1e6 / (speed_ms / 1000.0) : 0}}}};
  std::ofstream(argv[2], std::ios::binary) << out.dump();
  return 0;
}
