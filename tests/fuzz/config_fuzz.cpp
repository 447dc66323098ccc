// The configuration: a config file's text (parse_config_text) and a command
// line (parse_args, then validate) from arbitrary bytes. Any input ends in
// success or one error message, never a crash, a hang or a read past the
// text; --help text generation is exercised too.
//
// Input: byte 0 says which; the rest is config text, or NUL-separated argv
// words (after a fixed argv[0]).
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "probe/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    probe::Config config;
    if (data[0] & 1) {
        const flowgen::Status s = probe::parse_config_text(text, "fuzz.conf", config);
        if (!s.ok()) {
            FUZZ_CHECK(!s.message().empty());
            FUZZ_CHECK(s.message().rfind("fuzz.conf:", 0) == 0);  // names the file and line
        }
    } else {
        // argv words; --config would read a file: the file path is the
        // fuzzer's business only through parse_config_text above.
        std::vector<std::string> words{"echoflow"};
        size_t from = 0;
        while (from <= text.size() && words.size() < 64) {
            const size_t nul = text.find('\0', from);
            const std::string_view w = text.substr(from, nul == std::string_view::npos ? text.npos : nul - from);
            if (w.find("config") == std::string_view::npos) words.emplace_back(w);
            if (nul == std::string_view::npos) break;
            from = nul + 1;
        }
        std::vector<char*> argv;
        for (std::string& w : words) argv.push_back(w.data());
        argv.push_back(nullptr);
        probe::ParsedArgs args;
        const flowgen::Status s = probe::parse_args(static_cast<int>(words.size()), argv.data(), args);
        if (!s.ok()) {
            FUZZ_CHECK(!s.message().empty());
            FUZZ_CHECK(s.message().find('\n') == std::string::npos);  // one line
        } else {
            const flowgen::Status v = probe::validate(args.config, !args.eal_args.empty());
            if (!v.ok()) FUZZ_CHECK(!v.message().empty() && v.message().find('\n') == std::string::npos);
        }
    }
    return 0;
}
