// Compiled patterns cached on disk (detect/pattern_cache.hpp): a cached
// load matches exactly what a compile matches, an edited pattern file or a
// damaged cache file is never used, and a cache others could write is
// refused.
#include <boost/test/unit_test.hpp>

#include <hs/hs.h>
#include <sys/stat.h>
#include <unistd.h>

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
    const auto stored = fs::last_write_time(files[0]);
    BOOST_REQUIRE(second.load_file(kShippedFile, dir.path).ok());  // loads
    BOOST_TEST(dir.files().size() == 1u);
    BOOST_TEST((fs::last_write_time(files[0]) == stored));  // read, not rewritten

    const auto expected = verdicts(compiled);
    BOOST_TEST(expected.at(0).substr(0, 2) != "0/");  // the ptunnel payload does hit a tunnel pattern
    BOOST_TEST(verdicts(first) == expected, boost::test_tools::per_element());
    BOOST_TEST(verdicts(second) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_cache_file_is_the_one_of_these_exact_bytes) {
    TempDir dir;
    const PatternCache cache(dir.path);
    const std::string text = read_text(kShippedFile);
    BOOST_TEST(cache.path_for(text) == cache.path_for(std::string(text)));
    BOOST_TEST(cache.path_for(text) != cache.path_for(text + "\n"));  // an edit is another file
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, dir.path).ok());
    hs_database* dbs[PatternCache::kGroups];
    BOOST_TEST(cache.load(text, 7u, dbs));
    for (auto* db : dbs) hs_free_database(db);
    BOOST_TEST(!cache.load(text + "\n", 7u, dbs));  // never another file's databases
    BOOST_TEST(!cache.load(text, 3u, dbs));         // nor other groups than the file has
}

BOOST_AUTO_TEST_CASE(a_damaged_cache_file_is_recompiled_and_replaced) {
    TempDir dir;
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, dir.path).ok());
    const fs::path file = dir.files().at(0);
    const auto size = fs::file_size(file);
    {
        std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(size / 2));
        f.put('\x5a');
        f.put('\xa5');
    }
    const PatternCache cache(dir.path);
    hs_database* dbs[PatternCache::kGroups];
    BOOST_TEST(!cache.load(read_text(kShippedFile), 7u, dbs));  // Hyperscan's CRC refuses it
    for (auto* db : dbs) BOOST_TEST(db == nullptr);

    fs::resize_file(file, size / 3);  // truncated
    BOOST_TEST(!cache.load(read_text(kShippedFile), 7u, dbs));

    PatternSet again;
    BOOST_REQUIRE(again.load_file(kShippedFile, dir.path).ok());  // compiles and rewrites
    BOOST_TEST(fs::file_size(file) == size);
    BOOST_TEST(cache.load(read_text(kShippedFile), 7u, dbs));
    for (auto* db : dbs) hs_free_database(db);
}

BOOST_AUTO_TEST_CASE(a_cache_others_can_write_is_not_used) {
    TempDir dir;
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, dir.path).ok());
    const PatternCache cache(dir.path);
    const std::string text = read_text(kShippedFile);
    hs_database* dbs[PatternCache::kGroups];
    const fs::path file = dir.files().at(0);

    fs::permissions(file, fs::perms::group_write, fs::perm_options::add);
    BOOST_TEST(!cache.load(text, 7u, dbs));
    fs::permissions(file, fs::perms::group_write, fs::perm_options::remove);
    BOOST_TEST(cache.load(text, 7u, dbs));
    for (auto* db : dbs) hs_free_database(db);

    fs::permissions(dir.path, fs::perms::others_write, fs::perm_options::add);
    BOOST_TEST(!cache.load(text, 7u, dbs));
    hs_database* none[PatternCache::kGroups] = {};
    const auto s = cache.store(text, none);
    BOOST_TEST(!s.ok());
    BOOST_TEST(s.message().find("writable by others") != std::string::npos);

    // Still a working pattern set: the cache is an optimisation only.
    PatternSet compiled;
    BOOST_TEST(compiled.load_file(kShippedFile, dir.path).ok());
    BOOST_TEST(!compiled.empty());
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_created_private) {
    TempDir dir;
    const fs::path inner = dir.path / "cache" / "echoflow";
    PatternSet set;
    BOOST_REQUIRE(set.load_file(kShippedFile, inner).ok());
    BOOST_TEST(fs::is_directory(inner));
    BOOST_TEST(((fs::status(inner).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
                fs::perms::none));
    BOOST_TEST(std::distance(fs::directory_iterator(inner), fs::directory_iterator{}) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
