// probe::privileges: resolving --user/--group, the option table's --user and
// --group, and drop_privileges() in a child process (it cannot be undone):
// the calling thread keeps exactly the listed capabilities, a thread that
// existed before the switch keeps none, and root cannot be regained. The
// drop cases need root and are skipped otherwise.
#include <boost/test/unit_test.hpp>

#include <pwd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <thread>

#include "probe/config.hpp"
#include "probe/privileges.hpp"

namespace {

struct CapFree {
    void operator()(void* p) const { cap_free(p); }
};
using CapPtr = std::unique_ptr<_cap_struct, CapFree>;

bool root() { return geteuid() == 0; }

const passwd* nobody() { return getpwnam("nobody"); }

// Runs `body` in a forked child; its return value is the exit status (0: all
// checks held; n: check n failed).
int in_child(int (*body)()) {
    const pid_t pid = fork();
    if (pid == 0) _exit(body());
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// The capability sets of thread `tid` equal exactly `keep` (permitted and
// effective) with nothing inheritable. libcap reads them with capget().
bool thread_caps_are(pid_t tid, std::initializer_list<cap_value_t> keep) {
    CapPtr want(cap_init());
    if (keep.size()) {
        std::vector<cap_value_t> v(keep);
        cap_set_flag(want.get(), CAP_PERMITTED, static_cast<int>(v.size()), v.data(), CAP_SET);
        cap_set_flag(want.get(), CAP_EFFECTIVE, static_cast<int>(v.size()), v.data(), CAP_SET);
    }
    CapPtr have(cap_get_pid(tid));
    return have && cap_compare(have.get(), want.get()) == 0;
}

// No Boost assertion here: the drop cases call it in the forked child.
probe::Identity nobody_identity() {
    probe::Identity id;
    if (!probe::resolve_identity("nobody", "", id).ok()) id.uid = id.gid = 0;
    return id;
}

int drop_keeping_net_admin() {
    const probe::Identity id = nobody_identity();
    if (id.uid == 0) return 9;
    // A thread that exists before the switch, as DPDK's do.
    std::atomic<pid_t> other{0};
    std::atomic<bool> done{false};
    std::thread t([&] {
        other = static_cast<pid_t>(syscall(SYS_gettid));
        while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    while (other == 0) std::this_thread::yield();
    const cap_value_t keep[] = {CAP_NET_ADMIN};
    int rc = 0;
    if (!probe::drop_privileges(id, keep).ok()) rc = 1;
    else if (getuid() != id.uid || geteuid() != id.uid || getgid() != id.gid) rc = 2;
    else if (!thread_caps_are(static_cast<pid_t>(syscall(SYS_gettid)), {CAP_NET_ADMIN})) rc = 3;
    else if (!thread_caps_are(other, {})) rc = 4;
    else if (setuid(0) == 0) rc = 5;
    done = true;
    t.join();
    return rc;
}

int drop_everything() {
    const probe::Identity id = nobody_identity();
    if (id.uid == 0) return 9;
    if (!probe::drop_privileges(id, {}).ok()) return 1;
    if (!thread_caps_are(static_cast<pid_t>(syscall(SYS_gettid)), {})) return 2;
    gid_t groups[4];
    if (getgroups(4, groups) != 1 || groups[0] != id.gid) return 3;
    return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(privileges)

BOOST_AUTO_TEST_CASE(user_names_and_numbers_resolve_to_their_ids_and_primary_group) {
    const passwd* pw = nobody();
    BOOST_REQUIRE(pw != nullptr);
    probe::Identity id;
    BOOST_REQUIRE(probe::resolve_identity("nobody", "", id).ok());
    BOOST_TEST(id.uid == pw->pw_uid);
    BOOST_TEST(id.gid == pw->pw_gid);
    BOOST_REQUIRE(probe::resolve_identity(std::to_string(pw->pw_uid), "", id).ok());
    BOOST_TEST(id.uid == pw->pw_uid);
    BOOST_TEST(id.gid == pw->pw_gid);
    BOOST_REQUIRE(probe::resolve_identity("nobody", "0", id).ok());
    BOOST_TEST(id.gid == 0u);
    BOOST_REQUIRE(probe::resolve_identity("4000000", "4000001", id).ok());  // no passwd entry: as given
    BOOST_TEST(id.uid == 4000000u);
    BOOST_TEST(id.gid == 4000001u);
}

BOOST_AUTO_TEST_CASE(unknown_names_are_errors_that_name_the_option_and_the_value) {
    probe::Identity id;
    BOOST_TEST(probe::resolve_identity("no-such-user-ef", "", id).message() == "--user no-such-user-ef: no such user");
    BOOST_TEST(probe::resolve_identity("nobody", "no-such-group-ef", id).message() ==
               "--group no-such-group-ef: no such group");
    BOOST_TEST(probe::resolve_identity("4000000", "", id).message() ==
               "--user 4000000: uid without a passwd entry: give --group too");
    BOOST_TEST(probe::resolve_identity("root", "", id).message() == "--user root: is root; name an unprivileged user");
    BOOST_TEST(probe::resolve_identity("0", "0", id).message() == "--user 0: is root; name an unprivileged user");
}

BOOST_AUTO_TEST_CASE(only_a_kernel_interface_keeps_a_capability) {
    BOOST_TEST(probe::kept_capabilities(false).empty());
    const std::vector<cap_value_t> kept = probe::kept_capabilities(true);
    BOOST_TEST(kept.size() == 1u);
    BOOST_TEST(kept[0] == CAP_NET_ADMIN);
    const probe::Identity id = nobody_identity();
    const cap_value_t net_admin[] = {CAP_NET_ADMIN};
    BOOST_TEST(probe::describe_identity(id, net_admin).find("capabilities: cap_net_admin") != std::string::npos);
    BOOST_TEST(probe::describe_identity(id, {}).find("capabilities: none") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(user_and_group_come_from_the_option_table_and_group_needs_user) {
    char a0[] = "echoflow", a1[] = "--pcap", a2[] = "x.pcap", a3[] = "--user", a4[] = "nobody", a5[] = "--group",
         a6[] = "nogroup";
    char* argv[] = {a0, a1, a2, a3, a4, a5, a6};
    probe::ParsedArgs args;
    BOOST_REQUIRE(probe::parse_args(7, argv, args).ok());
    BOOST_TEST(args.config.user == "nobody");
    BOOST_TEST(args.config.group == "nogroup");
    BOOST_TEST(probe::validate(args.config, false).ok());
    args.config.user.clear();
    BOOST_TEST(probe::validate(args.config, false).message() == "--group needs --user");
    char e0[] = "echoflow", e1[] = "--user=";
    char* empty[] = {e0, e1};
    probe::ParsedArgs bad;
    BOOST_TEST(!probe::parse_args(2, empty, bad).ok());
}

BOOST_AUTO_TEST_CASE(a_start_as_another_user_cannot_switch_unless_root) {
    probe::Identity id = nobody_identity();
    BOOST_TEST(probe::check_can_switch(id).ok() == root());
}

BOOST_AUTO_TEST_CASE(drop_keeps_exactly_the_listed_capabilities_in_the_calling_thread_only) {
    if (!root() || !nobody()) {
        BOOST_TEST_MESSAGE("skipped: needs root and the user nobody");
        return;
    }
    BOOST_TEST(in_child(drop_keeping_net_admin) == 0);
}

BOOST_AUTO_TEST_CASE(drop_without_capabilities_leaves_none_and_one_group) {
    if (!root() || !nobody()) {
        BOOST_TEST_MESSAGE("skipped: needs root and the user nobody");
        return;
    }
    BOOST_TEST(in_child(drop_everything) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
