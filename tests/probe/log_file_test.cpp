// probe::LogFile and the exporter's conversation log: files are created
// 0640 (payload-derived data), wider existing files are narrowed, and a
// SIGHUP makes the exporter write to a new file at the same path after
// logrotate moved the old one away.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "probe/export_loop.hpp"
#include "probe/log_file.hpp"
#include "probe/run_control.hpp"
#include "probe/stats.hpp"

namespace {

// A fresh directory, removed with its files at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/ef-log-test.XXXXXX";
        BOOST_REQUIRE(mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string file(const char* name) const { return path + "/" + name; }
};

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

mode_t mode_of(const std::string& path) {
    struct stat st {};
    BOOST_REQUIRE(stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

// Restores the process umask when the test ends.
struct Umask {
    mode_t saved;
    explicit Umask(mode_t m) : saved(umask(m)) {}
    ~Umask() { umask(saved); }
};

flowgen::ConversationRecord record(uint64_t flow_id) {
    flowgen::ConversationRecord r;
    r.initiator = flowgen::IpAddress{};
    r.responder = flowgen::IpAddress{};
    r.family = flowgen::Family::kIpv4;
    r.initiator.bytes[0] = 192, r.initiator.bytes[1] = 0, r.initiator.bytes[2] = 2, r.initiator.bytes[3] = 1;
    r.responder.bytes[0] = 198, r.responder.bytes[1] = 51, r.responder.bytes[2] = 100, r.responder.bytes[3] = 7;
    r.key_type = 8;
    r.flow_id = flow_id;
    r.dir[0].packets = 1, r.dir[0].octets = 84, r.dir[0].first_ms = r.dir[0].last_ms = 1'764'128'000'000;
    r.dir[0].min_payload = r.dir[0].max_payload = 56, r.dir[0].payload_octets = 56;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(log_file)

BOOST_AUTO_TEST_CASE(new_file_is_created_0640_even_with_a_permissive_umask) {
    TempDir dir;
    Umask open_umask(0);
    probe::LogFile f;
    BOOST_REQUIRE(f.open(dir.file("conv.jsonl"), "conversations").ok());
    f.write("{}\n");
    f.close();
    BOOST_TEST(mode_of(dir.file("conv.jsonl")) == 0640u);
    BOOST_TEST(lines_of(dir.file("conv.jsonl")).size() == 1u);
}

BOOST_AUTO_TEST_CASE(existing_world_readable_file_is_narrowed_and_appended_to) {
    TempDir dir;
    const std::string path = dir.file("alerts.jsonl");
    { std::ofstream(path) << "old\n"; }
    BOOST_REQUIRE(chmod(path.c_str(), 0666) == 0);
    probe::LogFile f;
    BOOST_REQUIRE(f.open(path, "alerts").ok());
    f.write("new\n");
    f.close();
    BOOST_TEST(mode_of(path) == 0640u);
    BOOST_TEST((lines_of(path) == std::vector<std::string>{"old", "new"}));
}

BOOST_AUTO_TEST_CASE(unwritable_path_is_an_error_naming_the_log_and_the_cause) {
    probe::LogFile f;
    const flowgen::Status s = f.open("/nonexistent-dir/conv.jsonl", "conversations");
    BOOST_REQUIRE(!s.ok());
    BOOST_TEST(s.message() == "conversations /nonexistent-dir/conv.jsonl: No such file or directory");
    BOOST_TEST(!f.is_open());
}

BOOST_AUTO_TEST_CASE(reopen_after_rename_writes_to_a_new_file_at_the_path) {
    TempDir dir;
    const std::string path = dir.file("conv.jsonl");
    probe::LogFile f;
    BOOST_REQUIRE(f.open(path, "conversations").ok());
    f.write("one\n");
    f.flush();
    BOOST_REQUIRE(std::rename(path.c_str(), dir.file("conv.jsonl.1").c_str()) == 0);
    BOOST_REQUIRE(f.reopen().ok());
    f.write("two\n");
    f.close();
    BOOST_TEST((lines_of(dir.file("conv.jsonl.1")) == std::vector<std::string>{"one"}));
    BOOST_TEST((lines_of(path) == std::vector<std::string>{"two"}));
    BOOST_TEST(mode_of(path) == 0640u);
    BOOST_TEST(f.lines_lost() == 0u);
}

BOOST_AUTO_TEST_CASE(failed_reopen_counts_lost_lines_instead_of_writing_elsewhere) {
    TempDir dir;
    const std::string sub = dir.file("logs");
    BOOST_REQUIRE(mkdir(sub.c_str(), 0755) == 0);
    const std::string path = sub + "/conv.jsonl";
    probe::LogFile f;
    BOOST_REQUIRE(f.open(path, "conversations").ok());
    BOOST_REQUIRE(std::system(("rm -rf '" + sub + "'").c_str()) == 0);
    BOOST_TEST(!f.reopen().ok());
    f.write("lost\n");
    BOOST_TEST(f.lines_lost() == 1u);
}

BOOST_AUTO_TEST_CASE(sighup_makes_the_exporter_reopen_the_conversation_and_alert_logs) {
    TempDir dir;
    probe::Config config;
    config.conversations_path = dir.file("conv.jsonl");
    config.alerts_path = dir.file("alerts.jsonl");
    config.detect = false;
    probe::ExportLoop loop;
    BOOST_REQUIRE(loop.open(config, nullptr).ok());
    probe::install_stop_handlers();  // SIGHUP included
    probe::RunStats totals;

    loop.add_record(record(1), 1'764'128'001'000);
    loop.poll(1'764'128'001'000, totals);
    // logrotate: move both files away, then signal.
    BOOST_REQUIRE(std::rename(config.conversations_path.c_str(), dir.file("conv.jsonl.1").c_str()) == 0);
    BOOST_REQUIRE(std::rename(config.alerts_path.c_str(), dir.file("alerts.jsonl.1").c_str()) == 0);
    BOOST_REQUIRE(std::raise(SIGHUP) == 0);  // would end the process without the handler
    loop.add_record(record(2), 1'764'128'002'000);  // buffered: goes wherever the old file was
    loop.poll(1'764'128'002'000, totals);           // flushes, then reopens
    loop.add_record(record(3), 1'764'128'003'000);
    loop.close(1'764'128'003'000, totals);

    const auto old_lines = lines_of(dir.file("conv.jsonl.1"));
    const auto new_lines = lines_of(config.conversations_path);
    BOOST_REQUIRE(old_lines.size() == 2u);
    BOOST_REQUIRE(new_lines.size() == 1u);
    BOOST_TEST(old_lines[0].find("\"flow_id\":1,") != std::string::npos);
    BOOST_TEST(old_lines[1].find("\"flow_id\":2,") != std::string::npos);
    BOOST_TEST(new_lines[0].find("\"flow_id\":3,") != std::string::npos);
    BOOST_TEST(mode_of(config.conversations_path) == 0640u);
    // The alert log was reopened too (no alerts without detection: empty, new).
    BOOST_TEST(mode_of(config.alerts_path) == 0640u);
    BOOST_TEST(loop.flows_exported() == 3u);
}

BOOST_AUTO_TEST_CASE(lines_lost_after_a_failed_reopen_reach_the_run_counters) {
    TempDir dir;
    const std::string sub = dir.file("logs");
    BOOST_REQUIRE(mkdir(sub.c_str(), 0755) == 0);
    probe::Config config;
    config.conversations_path = sub + "/conv.jsonl";
    config.detect = false;
    probe::ExportLoop loop;
    BOOST_REQUIRE(loop.open(config, nullptr).ok());
    probe::install_stop_handlers();
    probe::RunStats totals;
    loop.add_record(record(1), 1'764'128'001'000);
    // The directory is gone when logrotate signals: the reopen fails.
    BOOST_REQUIRE(std::system(("rm -rf '" + sub + "'").c_str()) == 0);
    BOOST_REQUIRE(std::raise(SIGHUP) == 0);
    loop.poll(1'764'128'001'000, totals);
    loop.add_record(record(2), 1'764'128'002'000);
    loop.add_record(record(3), 1'764'128'003'000);
    BOOST_TEST(loop.log_lines_lost() == 2u);
    probe::collect({}, loop, totals);
    BOOST_TEST(totals.log_lines_lost == 2u);
    BOOST_TEST(probe::stats_json(totals).find("\"log_lines_lost\":2") != std::string::npos);
    loop.close(1'764'128'003'000, totals);
}

BOOST_AUTO_TEST_SUITE_END()
