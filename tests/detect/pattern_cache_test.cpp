// Compiled patterns cached on disk (detect/pattern_cache.hpp): a cached
// load matches exactly what a compile matches, an edited pattern file or a
// damaged cache file is never used, and a cache others could write is
// refused.
#include <boost/test/unit_test.hpp>

#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "detect/pattern_cache.hpp"
#include "detect/patterns.hpp"
#include "tests/detect/payloads.hpp"

using namespace detect;
using namespace tests::detect;
namespace fs = std::filesystem;

namespace {

const std::string kShippedFile = std::string(ECHOFLOW_SOURCE_DIR) + "/detect/patterns/echoflow.patterns";

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct TempDir {
    fs::path path;
    TempDir() {
        char name[] = "/tmp/echoflow-cache-test-XXXXXX";
        BOOST_REQUIRE(mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { fs::remove_all(path); }
    std::vector<fs::path> files() const {
        std::vector<fs::path> out;
        for (const auto& e : fs::directory_iterator(path)) out.push_back(e.path());
        return out;
    }
};

// What a set reports for payloads that hit every group of the shipped file.
std::vector<std::string> verdicts(PatternSet& set) {
    const std::vector<Payload> payloads = {
        ptunnel_packet(0xD5200880u, random_bytes(64, 1), 1), linux_ping(56, 1), windows_ping(32),
        text("uid=0(root) gid=0(root) groups=0(root)\n"), text("whoami\n"), random_bytes(200, 9),
    };
    std::vector<std::string> out;
    for (const auto& p : payloads) {
        ContentHits h;
        BOOST_REQUIRE(set.scan(Bytes(p.data(), p.size()), h));
        out.push_back(std::to_string(h.tunnel_id) + "/" + std::to_string(h.suspicious_id) + "/" +
                      std::to_string(h.benign_id) + "/" + std::to_string(h.ping_id));
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pattern_cache)

BOOST_AUTO_TEST_CASE(a_cached_load_matches_what_a_compile_matches) {
    TempDir dir;
    PatternSet compiled;
    BOOST_REQUIRE(compiled.load_file(kShippedFile).ok());
    BOOST_TEST(dir.files().empty());

    PatternSet first, second;
    BOOST_REQUIRE(first.load_file(kShippedFile, dir.path).ok());  // compiles, stores
    const auto files = dir.files();
    BOOST_REQUIRE(files.size() == 1u);
    BOOST_TEST(((fs::status(files[0]).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
                fs::perms::none));
    struct stat before {}, after {};
    BOOST_REQUIRE(::stat(files[0].c_str(), &before) == 0);
    BOOST_REQUIRE(second.load_file(kShippedFile, dir.path).ok());  // loads
    BOOST_TEST(dir.files().size() == 1u);
    BOOST_REQUIRE(::stat(files[0].c_str(), &after) == 0);
    BOOST_TEST(after.st_ino == before.st_ino);  // read, not rewritten (a store renames a new file in)
    BOOST_TEST(after.st_mtime >= before.st_mtime);  // and marked as used (pruning looks at mtime)

    const auto expected = verdicts(compiled);
    BOOST_TEST(expected.at(0).substr(0, 2) != "0/");  // the ptunnel payload does hit a tunnel pattern
    BOOST_TEST(verdicts(first) == expected, boost::test_tools::per_element());
    BOOST_TEST(verdicts(second) == expected, boost::test_tools::per_element());
}

// A pattern file with one regex changed: another key, another file; and the
// old file renamed to the new key's name is refused (the key inside differs).
BOOST_AUTO_TEST_CASE(a_database_is_used_only_for_the_compile_it_came_from) {
    TempDir dir;
    TempDir files;
    const std::string original = read_text(kShippedFile);
    const std::string edited_text = original + "\n9999:edited-marker:tunnel:-:/EDITED-MARKER-9999/\n";
    const fs::path edited = files.path / "edited.patterns";
    std::ofstream(edited) << edited_text;
    const Payload marker = text("xx EDITED-MARKER-9999 xx");
    auto tunnel_id = [&](PatternSet& set) {
        ContentHits h;
        BOOST_REQUIRE(set.scan(Bytes(marker.data(), marker.size()), h));
        return h.tunnel_id;
    };

    PatternSet a;
    BOOST_REQUIRE(a.load_file(kShippedFile, dir.path).ok());
    const fs::path a_file = dir.files().at(0);
    BOOST_TEST(tunnel_id(a) == 0u);

    PatternSet b;
    BOOST_REQUIRE(b.load_file(edited, dir.path).ok());
    BOOST_TEST(dir.files().size() == 2u);  // its own file
    BOOST_TEST(tunnel_id(b) == 9999u);
    fs::path b_file;
    for (const auto& f : dir.files())
        if (f != a_file) b_file = f;

    // The original's databases under the edited file's name: refused, so
    // the edited file still gets its new pattern, and the file is replaced.
    fs::copy_file(a_file, b_file, fs::copy_options::overwrite_existing);
    PatternSet c;
    BOOST_REQUIRE(c.load_file(edited, dir.path).ok());
    BOOST_TEST(tunnel_id(c) == 9999u);
    BOOST_TEST(fs::file_size(b_file) != fs::file_size(a_file));
    PatternSet d;
    BOOST_REQUIRE(d.load_file(edited, dir.path).ok());  // now a hit
    BOOST_TEST(tunnel_id(d) == 9999u);
}

BOOST_AUTO_TEST_CASE(a_damaged_cache_file_is_recompiled_and_replaced) {
    TempDir dir;
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, dir.path).ok());
    const fs::path file = dir.files().at(0);
    const std::string good = read_text(file);
    for (const auto& damage : {std::string("flip"), std::string("truncate")}) {
        if (damage == "flip") {
            std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(good.size() / 2));  // inside a database: Hyperscan's CRC
            f.put('\x5a');
            f.put('\xa5');
        } else {
            fs::resize_file(file, good.size() / 3);
        }
        BOOST_TEST(read_text(file) != good);
        PatternSet again;
        BOOST_REQUIRE(again.load_file(kShippedFile, dir.path).ok());
        BOOST_TEST(read_text(file) == good, damage << ": compiled again and replaced");
        BOOST_TEST(verdicts(again) == verdicts(set), boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(a_cache_others_can_write_is_not_used) {
    TempDir dir;
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, dir.path).ok());
    const fs::path file = dir.files().at(0);
    const auto private_file = fs::status(file).permissions();

    // A group-writable file is not read; the compile replaces it (0600).
    fs::permissions(file, fs::perms::group_write, fs::perm_options::add);
    PatternSet again;
    BOOST_REQUIRE(again.load_file(kShippedFile, dir.path).ok());
    BOOST_TEST((fs::status(file).permissions() == private_file));

    // A world-writable directory: neither read nor written.
    fs::remove(file);
    fs::permissions(dir.path, fs::perms::others_write, fs::perm_options::add);
    PatternSet compiled;
    BOOST_TEST(compiled.load_file(kShippedFile, dir.path).ok());  // works: the cache is an optimisation only
    BOOST_TEST(!compiled.empty());
    BOOST_TEST(dir.files().empty());
    const PatternCache cache(dir.path);
    hs_database* none[PatternCache::kGroups] = {};
    const auto s = cache.store("key", none);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message().find("writable by others") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_created_private_under_our_own_parent_only) {
    TempDir dir;
    const fs::path inner = dir.path / "cache" / "echoflow";
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, inner).ok());
    BOOST_TEST(fs::is_directory(inner));
    BOOST_TEST(((fs::status(inner).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
                fs::perms::none));
    BOOST_TEST(std::distance(fs::directory_iterator(inner), fs::directory_iterator{}) == 1);

    // Under a directory of another user (root run with someone's $HOME):
    // nothing is created there.
    if (geteuid() != 0) return;  // needs chown
    const fs::path theirs = dir.path / "home-of-someone";
    fs::create_directory(theirs);
    BOOST_REQUIRE(::chown(theirs.c_str(), 65534, 65534) == 0);
    PatternSet other;
    BOOST_REQUIRE(other.load_file(kShippedFile, theirs / ".cache" / "echoflow").ok());
    BOOST_TEST(!fs::exists(theirs / ".cache"));
}

BOOST_AUTO_TEST_CASE(files_unused_for_30_days_are_pruned_and_used_ones_kept) {
    TempDir dir, files;
    const fs::path other = files.path / "other.patterns";
    std::ofstream(other) << "1:only-one:tunnel:-:/ONLY-ONE/\n";
    const fs::path third = files.path / "third.patterns";
    std::ofstream(third) << "1:another:tunnel:-:/ANOTHER/\n";
    PatternSet a, b;
    BOOST_REQUIRE(a.load_file(kShippedFile, dir.path).ok());
    BOOST_REQUIRE(b.load_file(other, dir.path).ok());
    BOOST_REQUIRE(dir.files().size() == 2u);
    const auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(24 * 40);
    for (const auto& f : dir.files()) fs::last_write_time(f, old_time);
    PatternSet again;
    BOOST_REQUIRE(again.load_file(kShippedFile, dir.path).ok());  // a hit: marks it used
    PatternSet c;
    BOOST_REQUIRE(c.load_file(third, dir.path).ok());  // a store: prunes
    std::vector<std::string> names;
    for (const auto& f : dir.files()) names.push_back(f.filename().string());
    BOOST_TEST(names.size() == 2u);  // the shipped file's (used) and the third's; "other" was stale
    PatternSet shipped_again;
    BOOST_REQUIRE(shipped_again.load_file(kShippedFile, dir.path).ok());
    BOOST_TEST(dir.files().size() == 2u);  // still a hit: nothing new written
}

BOOST_AUTO_TEST_CASE(root_does_not_default_to_its_home) {
    // sudo may keep the invoking user's $HOME: root's cache must not land there.
    if (geteuid() != 0) return;
    const char* home = std::getenv("HOME");
    const char* systemd = std::getenv("CACHE_DIRECTORY");
    const std::string saved_home = home ? home : "", saved_systemd = systemd ? systemd : "";
    ::unsetenv("CACHE_DIRECTORY");
    ::setenv("HOME", "/home/someone-else", 1);
    BOOST_TEST(PatternCache::default_dir() == "/var/cache/echoflow");
    ::setenv("CACHE_DIRECTORY", "/var/cache/echoflow-unit", 1);  // systemd's CacheDirectory= wins
    BOOST_TEST(PatternCache::default_dir() == "/var/cache/echoflow-unit");
    if (systemd) ::setenv("CACHE_DIRECTORY", saved_systemd.c_str(), 1);
    else ::unsetenv("CACHE_DIRECTORY");
    if (home) ::setenv("HOME", saved_home.c_str(), 1);
}

BOOST_AUTO_TEST_SUITE_END()
