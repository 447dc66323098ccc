// Where pages are: the kernel's answer for touched and untouched memory, and
// for a worker's tables once init() has built them.
#include <boost/test/unit_test.hpp>

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "detect/config.hpp"
#include "probe/numa.hpp"
#include "probe/worker.hpp"

namespace {

// The node of the CPU this thread runs on, from sysfs (0 without NUMA).
int this_cpu_node() {
    const int cpu = sched_getcpu();
    for (int node = 0; node < 1024; ++node) {
        const std::string path =
            "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/node" + std::to_string(node);
        if (access(path.c_str(), F_OK) == 0) return node;
    }
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(numa)

BOOST_AUTO_TEST_CASE(a_touched_page_has_a_node_an_untouched_one_has_none) {
    const long page = sysconf(_SC_PAGESIZE);
    void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    BOOST_REQUIRE(p != MAP_FAILED);
    auto* bytes = static_cast<char*>(p);
    BOOST_TEST(probe::node_of_page(bytes) == -1);  // mapped, never touched: not resident
    BOOST_TEST(probe::describe_node_of(bytes) == "not resident");
    std::memset(bytes + page, 1, 1);
    const int node = probe::node_of_page(bytes + page + 17);  // any address in the page
    BOOST_TEST(node >= 0);
    BOOST_TEST(probe::describe_node_of(bytes + page) == "node " + std::to_string(node));
    BOOST_TEST(probe::node_of_page(nullptr) == -1);
    BOOST_TEST(probe::describe_node_of(nullptr) == "unknown");
    munmap(p, 2 * page);
}

BOOST_AUTO_TEST_CASE(a_workers_tables_are_resident_once_init_has_built_them) {
    detect::Config detection;  // no pattern file: no Hyperscan needed here
    probe::WorkerSettings ws;
    ws.cache.capacity = 1u << 16;
    ws.detection = &detection;
    // Stay on one CPU while the tables are built, as a worker lcore does.
    cpu_set_t saved, one;
    BOOST_REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    BOOST_REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    probe::Worker worker(ws);
    const probe::Worker::TableAddresses before = worker.table_addresses();
    BOOST_TEST(before.cache == nullptr);
    BOOST_REQUIRE(worker.init().ok());
    const probe::Worker::TableAddresses t = worker.table_addresses();
    const int node = this_cpu_node();  // first touch: the node of the CPU that built them
    sched_setaffinity(0, sizeof saved, &saved);
    for (const void* table : {t.cache, t.detector_state, t.records, t.alerts}) {
        BOOST_REQUIRE(table != nullptr);
        BOOST_TEST(probe::node_of_page(table) >= 0);
        BOOST_TEST(probe::node_of_page(table) == node);
    }
}

BOOST_AUTO_TEST_SUITE_END()
