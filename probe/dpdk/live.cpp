#include "probe/live.hpp"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "probe/eal_init.hpp"
#include "probe/export_loop.hpp"
#include "probe/numa.hpp"
#include "probe/run_control.hpp"
#include "probe/spread.hpp"
#include "probe/stats.hpp"
#include "probe/telemetry.hpp"
#include "probe/worker.hpp"
#include "probe/xdp_stats.hpp"

namespace probe {

namespace {

constexpr uint16_t kRxDescriptors = 1024;
constexpr unsigned kRingSize = 4096;
constexpr unsigned kPoolCache = 256;  // mbufs each lcore keeps of the pool (rte_mempool cache)
constexpr unsigned kPrefetchAhead = 4;

// Symmetric Toeplitz key: with the 16-bit pattern repeated, the hash of
// (a, b) equals the hash of (b, a) (Woo and Park, "Scalable TCP Session
// Monitoring with Symmetric Receive-side Scaling").
uint8_t kSymmetricRssKey[40] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

std::string errstr(int rc) { return std::to_string(rc) + " (" + rte_strerror(rc < 0 ? -rc : rc) + ")"; }

void fail(const std::string& message) { std::fprintf(stderr, "echoflow: %s\n", message.c_str()); }

struct QueueRef {
    uint16_t port;
    uint16_t queue;
    Spread spread;  // which ICMP frames go to their owning worker by software hash
};

// Probe time on live ports: milliseconds on the TSC, which the wall clock
// cannot step (NTP, an operator, a VM resume) and libfaketime cannot
// touch. Expiry, timeouts, the export timers and elapsed_seconds run on it;
// it starts at the wall clock's epoch ms, and ExportLoop::set_wall_offset_ms
// turns it back into wall-clock time for what is exported. One rdtsc and a
// multiply per burst. rte_get_tsc_hz() is an estimate (DPDK calibrates it at
// start): its error stretches timeouts by the same small ratio and is
// corrected in timestamps by the wall offset. Read-only after start():
// every lcore may call now_ms() on the same object.
struct TscClock {
    uint64_t base_ms = 0;
    uint64_t base_tsc = 0;
    double ms_per_tick = 0;
    double seconds_per_tick = 0;
    void start() {
        const uint64_t hz = rte_get_tsc_hz();
        ms_per_tick = 1000.0 / static_cast<double>(hz);
        seconds_per_tick = 1.0 / static_cast<double>(hz);
        base_tsc = rte_rdtsc();
        base_ms = wall_clock_ms();
    }
    uint64_t now_ms() const noexcept {
        return base_ms + static_cast<uint64_t>(static_cast<double>(rte_rdtsc() - base_tsc) * ms_per_tick);
    }
    double elapsed_seconds() const noexcept {
        return static_cast<double>(rte_rdtsc() - base_tsc) * seconds_per_tick;
    }
    // Wall clock minus probe time now: what exported times are shifted by.
    int64_t wall_offset_ms() const noexcept {
        return static_cast<int64_t>(wall_clock_ms()) - static_cast<int64_t>(now_ms());
    }
};

struct Live;

struct alignas(64) WorkerSlot {
    Live* live = nullptr;
    unsigned index = 0;
    unsigned lcore = 0;
    unsigned socket = 0;             // the lcore's NUMA socket
    WorkerSettings settings;         // what init_on_lcore builds the worker from
    // Written by the worker's lcore before it sets init_done (release).
    flowgen::Status init_status;
    std::string placement;           // where the worker's tables landed
    std::atomic<bool> init_done{false};
    std::unique_ptr<Worker> worker;
    std::vector<QueueRef> queues;
    std::vector<rte_ring*> inbox;  // rings other workers fill for this one (one per sender)
    std::vector<rte_ring*> outbox; // outbox[w]: to worker w (null for self)
    std::atomic<bool> done{false};
};

struct Live {
    const Config* config = nullptr;
    TscClock clock;
    // One mbuf pool per NUMA socket with workers: a queue takes its mbufs
    // from the pool on the socket of the lcore that polls it.
    rte_mempool* pools[RTE_MAX_NUMA_NODES] = {};
    std::vector<uint16_t> ports;
    std::vector<uint16_t> promiscuous_set;  // ports echoflow put in promiscuous mode (restored at exit)
    std::vector<std::unique_ptr<WorkerSlot>> slots;
    std::vector<Worker*> workers;
    ExportLoop exporter;
    // Per-sender evidence seen by every worker: a sender's conversations
    // spread over workers (the distribution hashes the address pair).
    detect::SourceTable senders;
    bool single_thread = false;
    std::atomic<unsigned> rx_stopped{0};  // workers that left their receive loop
    std::string xdp_interface;
    int xdp_counters_fd = -1;        // icmp_steer's counters map, opened while privileged
    bool kernel_interface = false;   // a port is a kernel interface (af_xdp, af_packet, tap)
    RunStats totals;  // main lcore only
};

// Returns the number of records and alerts taken from the workers' queues.
size_t export_step(Live& L, uint64_t now_ms, double& next_poll, ProgressReport& progress) {
    const size_t popped = L.exporter.drain(L.workers, now_ms);
    const double t = L.clock.elapsed_seconds();
    if (t < next_poll) return popped;
    next_poll = t + 0.01;
    L.exporter.set_wall_offset_ms(L.clock.wall_offset_ms());
    read_port_counters(L.ports, L.totals);  // ethdev stats can be syscalls (af_xdp): every 10 ms, not every pass
    collect(L.workers, L.exporter, L.totals);
    L.exporter.poll(now_ms, L.totals);
    progress.maybe_print(L.totals, t);
    return popped;
}

int worker_main(void* arg) {
    WorkerSlot& slot = *static_cast<WorkerSlot*>(arg);
    Live& L = *slot.live;
    Worker& w = *slot.worker;
    const unsigned burst = std::min<unsigned>(L.config->burst_size, Worker::kMaxBurst);
    const unsigned nworkers = static_cast<unsigned>(L.slots.size());
    rte_mbuf* pkts[Worker::kMaxBurst];
    rte_mbuf* keep[Worker::kMaxBurst];
    const TscClock clock = L.clock;  // read-only: a copy on this lcore's own lines
    double next_poll = 0;
    ProgressReport progress(L.config->stats_interval_s, L.clock.elapsed_seconds());

    // Every frame is parsed once, by the lcore that received it, and goes
    // to its worker a burst at a time (Worker::handle: key and hash all,
    // prefetch, then update; docs/performance.md). A frame another worker
    // owns travels to it parsed, over an SPSC ring of ParsedFrame with its
    // mbuf in ParsedFrame::buffer; the owner frees it.
    static_assert(sizeof(ParsedFrame) % 4 == 0, "rte_ring elements are multiples of 4 bytes");
    ParsedFrame parsed[Worker::kMaxBurst];
    // A burst is dated when it has been taken (one rdtsc), and expiry runs
    // up to that time before it is accounted: after a stall longer than the
    // idle timeout (VM steal, SIGSTOP, a page-fault storm) the conversations
    // idle through it end by idle timeout, and the frames that waited in the
    // ring start new ones, as a capture read in order would have it.
    uint64_t now_ms = clock.now_ms();
    auto advance = [&] {
        now_ms = clock.now_ms();
        w.expire(now_ms);
    };
    // Frames handed over by other workers: their own arrays, because a
    // worker also takes them while it waits on a full ring in the middle
    // of its own burst.
    ParsedFrame handed[Worker::kMaxBurst];
    rte_mbuf* handed_mbufs[Worker::kMaxBurst];
    auto take_handed = [&](rte_ring* r, bool dated_now) {
        const unsigned n = rte_ring_sc_dequeue_burst_elem(r, handed, sizeof(ParsedFrame), burst, nullptr);
        if (n == 0) return 0u;
        if (dated_now) advance();
        w.handle(handed, n, now_ms);
        for (unsigned i = 0; i < n; ++i) handed_mbufs[i] = static_cast<rte_mbuf*>(handed[i].buffer);
        rte_pktmbuf_free_bulk(handed_mbufs, n);
        return n;
    };
    while (!stop_requested()) {
        advance();
        for (const QueueRef& q : slot.queues) {
            const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, static_cast<uint16_t>(burst));
            if (n == 0) continue;
            advance();
            unsigned kept = 0;
            for (uint16_t i = 0; i < n; ++i) {
                if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
                rte_mbuf* m = pkts[i];
                ParsedFrame& f = parsed[kept];
                parse_into(f, flowgen::LinkType::kEthernet,
                           {rte_pktmbuf_mtod(m, const uint8_t*), rte_pktmbuf_data_len(m)}, q.port, 0,
                           w.parse_options());
                if (f.status == flowgen::ParseStatus::kIcmp && spread_in_software(q.spread, f.info)) {
                    w.count_software_spread(is_tunnelled(f.info));
                    const unsigned owner = owner_of(f.info, nworkers);
                    if (owner != slot.index) {
                        // The owner frees it. A full ring (the owner was
                        // descheduled, or is slower): wait for room rather
                        // than account the frame here, which would split its
                        // conversation and make the results depend on the
                        // number of workers. Meanwhile take what others hand
                        // to this worker, so that two workers waiting on each
                        // other both progress (owners drain their inbox until
                        // every worker has stopped, also after Ctrl-C). The
                        // port's own RX ring absorbs the wait; beyond it the
                        // NIC drops and counts (nic_missed).
                        f.buffer = m;
                        while (rte_ring_sp_enqueue_elem(slot.outbox[owner], &f, sizeof(ParsedFrame)) != 0) {
                            for (rte_ring* r : slot.inbox) take_handed(r, false);
                            rte_pause();
                        }
                        continue;
                    }
                }
                keep[kept++] = m;
            }
            w.handle(parsed, kept, now_ms);
            if (kept) rte_pktmbuf_free_bulk(keep, kept);
        }
        for (rte_ring* r : slot.inbox) take_handed(r, true);
        w.serve_top(now_ms);
        if (L.single_thread) export_step(L, now_ms, next_poll, progress);
    }

    // Stop. Other workers may still hand over frames from their last burst:
    // keep taking them until every worker has stopped receiving, then once
    // more. Every frame handed over is counted by its owner and freed.
    now_ms = clock.now_ms();
    auto drain_inbox = [&] {
        for (rte_ring* r : slot.inbox)
            while (take_handed(r, false) > 0) {
            }
    };
    L.rx_stopped.fetch_add(1, std::memory_order_acq_rel);
    while (L.rx_stopped.load(std::memory_order_acquire) < nworkers) {
        drain_inbox();
        rte_pause();
    }
    drain_inbox();
    w.set_wait_on_full_queue(!L.single_thread);
    w.flush(now_ms, flowgen::EndReason::kForcedEnd);
    slot.done.store(true, std::memory_order_release);
    return 0;
}

// A worker is built on its own lcore: its conversation cache and detector
// state are mapped and zeroed, its queues allocated and its pattern scratch
// made by the thread that will use them, so that Linux's first-touch policy
// puts their pages on that lcore's NUMA node (probe/numa.hpp). The main
// lcore waits for init_done.
int init_on_lcore(void* arg) {
    WorkerSlot& slot = *static_cast<WorkerSlot*>(arg);
    flowgen::Status status;
    try {
        auto w = std::make_unique<Worker>(slot.settings);
        status = w->init();
        if (status.ok()) {
            const Worker::TableAddresses t = w->table_addresses();
            slot.placement = "conversation cache on " + describe_node_of(t.cache) + ", detector state on " +
                             (t.detector_state ? describe_node_of(t.detector_state) : std::string("none")) +
                             ", record queue on " + describe_node_of(t.records) + ", alert queue on " +
                             describe_node_of(t.alerts);
            slot.worker = std::move(w);
        }
    } catch (const std::bad_alloc&) {
        status = flowgen::Status::error("cannot allocate the worker");
    }
    slot.init_status = std::move(status);
    slot.init_done.store(true, std::memory_order_release);
    return 0;
}

// How long the main lcore waits for the workers to build their tables:
// zeroing many GiB of cache takes seconds, a worker that has not finished
// after this is stuck (start-up fails rather than hang).
constexpr double kWorkerInitSeconds = 120;

// Which worker polls queue `q` of a port (the assignment run_live makes).
unsigned slot_of_queue(const PortSpread& plan, uint16_t port, uint16_t q, unsigned nworkers) {
    if (plan.rss) return q;                      // RSS: one queue per worker
    if (plan.queues > 1) return q % nworkers;    // af_xdp: its queues shared out
    return port % nworkers;                      // one queue: the port's worker
}

flowgen::Status setup_port(Live& L, uint16_t port, unsigned nworkers, PortSpread& plan) {
    rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(port, &info);
    if (rc != 0) return flowgen::Status::error("rte_eth_dev_info_get: " + errstr(rc));
    rte_eth_conf conf{};
    // An af_xdp port has exactly the queues given with queue_count=, each
    // bound to a NIC queue the kernel's RSS fills (not symmetric): all must
    // be read, and workers then meet conversations by software hash.
    const std::string_view driver = info.driver_name;
    const bool af_xdp = driver == "net_af_xdp";
    // Their promiscuous flag and XDP program are the kernel's: switching
    // them back at exit takes CAP_NET_ADMIN (kept_capabilities()).
    if (af_xdp || driver == "net_af_packet" || driver == "net_tap") L.kernel_interface = true;
    const uint64_t rss_hf = info.flow_type_rss_offloads & RTE_ETH_RSS_IP;
    // The RSS level (rte_ethdev.h: 0 the PMD's default, 1 outermost, 2
    // innermost) is asked for in rss_hf; rte_eth_dev_configure refuses a bit
    // the port does not list in flow_type_rss_offloads.
    const bool rss_inner =
        (info.flow_type_rss_offloads & RTE_ETH_RSS_LEVEL_INNERMOST) == RTE_ETH_RSS_LEVEL_INNERMOST;
    plan = plan_port(af_xdp, info.max_rx_queues, rss_hf != 0, rss_inner, nworkers);
    const uint16_t queues = plan.queues;
    if (plan.rss) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = kSymmetricRssKey;
        conf.rx_adv_conf.rss_conf.rss_key_len = sizeof kSymmetricRssKey;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf | (plan.inner_rss ? RTE_ETH_RSS_LEVEL_INNERMOST : 0);
    }
    // Receive only, but some PMDs (af_xdp, memif) refuse fewer TX than RX
    // queues: set up as many, never used.
    uint16_t txq = queues;
    rc = rte_eth_dev_configure(port, queues, txq, &conf);
    if (rc != 0) return flowgen::Status::error("rte_eth_dev_configure: " + errstr(rc));
    uint16_t rxd = kRxDescriptors, txd = 512;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
    if (rc != 0) return flowgen::Status::error("rte_eth_dev_adjust_nb_rx_tx_desc: " + errstr(rc));
    const int socket = rte_eth_dev_socket_id(port);
    // A driver may take mbufs from the pool at queue setup or start (net_pcap
    // infinite_rx=1 copies the whole capture into mbufs): when it fails,
    // say how full the pool is and how to make it bigger.
    auto pool_hint = [](const rte_mempool* pool) {
        return "; mbuf pool " + std::string(pool->name) + ": " + std::to_string(rte_mempool_avail_count(pool)) +
               " of " + std::to_string(pool->size) + " free (raise --mbufs if the driver needs more)";
    };
    // Descriptors and mbufs on the socket of the lcore that polls the queue
    // (as DPDK's l3fwd does): it reads every descriptor and every frame.
    for (uint16_t q = 0; q < queues; ++q) {
        const WorkerSlot& poller = *L.slots[slot_of_queue(plan, port, q, nworkers)];
        rte_mempool* pool = L.pools[poller.socket];
        rc = rte_eth_rx_queue_setup(port, q, rxd, static_cast<int>(poller.socket), nullptr, pool);
        if (rc != 0)
            return flowgen::Status::error("rx queue " + std::to_string(q) + ": " + errstr(rc) + pool_hint(pool));
        if (socket >= 0 && static_cast<unsigned>(socket) != poller.socket && !L.config->quiet)
            std::fprintf(stderr,
                         "echoflow: port %u is on socket %d, its rx queue %u is polled by lcore %u on socket %u: "
                         "every frame crosses between sockets\n",
                         port, socket, q, poller.lcore, poller.socket);
    }
    for (uint16_t q = 0; q < txq; ++q) {
        rc = rte_eth_tx_queue_setup(port, q, txd, socket < 0 ? SOCKET_ID_ANY : socket, nullptr);
        if (rc != 0) return flowgen::Status::error("tx queue " + std::to_string(q) + ": " + errstr(rc));
    }
    rc = rte_eth_dev_start(port);
    if (rc != 0)
        return flowgen::Status::error("rte_eth_dev_start: " + errstr(rc) +
                                      pool_hint(L.pools[L.slots[slot_of_queue(plan, port, 0, nworkers)]->socket]));
    // A SPAN/TAP port sees other hosts' frames: promiscuous is required.
    // Switched back off at exit if echoflow switched it on (an af_xdp port
    // is a kernel interface: its PROMISC flag would otherwise outlive us).
    const bool was_on = rte_eth_promiscuous_get(port) == 1;
    rc = rte_eth_promiscuous_enable(port);
    if (rc != 0 && rc != -ENOTSUP)
        std::fprintf(stderr, "echoflow: port %u: promiscuous mode: %s\n", port, errstr(rc).c_str());
    if (rc == 0 && !was_on) L.promiscuous_set.push_back(port);
    return {};
}

}  // namespace

void read_port_counters(std::span<const uint16_t> ports, RunStats& out) {
    out.nic_missed = out.nic_errors = out.nic_no_mbuf = 0;
    for (uint16_t port : ports) {
        rte_eth_stats s;
        if (rte_eth_stats_get(port, &s) == 0) {
            out.nic_missed += s.imissed;
            out.nic_errors += s.ierrors;
            out.nic_no_mbuf += s.rx_nombuf;
        }
    }
}

void read_xdp_group(int xdp_counters_fd, RunStats& out) {
    if (xdp_counters_fd < 0) return;
    XdpCounters xc;
    if (!read_xdp_counters_fd(xdp_counters_fd, xc).ok()) return;
    out.have_xdp = true;
    out.xdp_redirected = xc.redirected;
    out.xdp_passed = xc.passed;
    out.xdp_dropped = xc.dropped;
}

int run_live(const Config& config, const LiveOptions& options) {
    std::vector<char*> argv;
    for (const std::string& a : options.eal_args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Before EAL init, which can take seconds: a SIGINT during it must ask
    // for a clean stop, not kill the process half-initialised.
    install_stop_handlers();
    if (EalInitResult eal = init_eal(argv); !eal.status.ok()) {
        fail(eal.status.message());
        return eal.usage_error ? 2 : 1;
    }
    auto L = std::make_unique<Live>();
    L->config = &config;
    L->xdp_interface = options.xdp_interface;
    int exit_code = 0;
    uint16_t port;
    RTE_ETH_FOREACH_DEV(port) L->ports.push_back(port);

    unsigned lcore;
    std::vector<unsigned> worker_lcores;
    RTE_LCORE_FOREACH_WORKER(lcore) worker_lcores.push_back(lcore);
    L->single_thread = worker_lcores.empty();
    const unsigned nworkers = L->single_thread ? 1 : static_cast<unsigned>(worker_lcores.size());

    // Set when a worker's lcore may still be writing into its slot (start-up
    // interrupted or timed out): the slots and the EAL are then left alone.
    bool abandoned = false;

    // Builds every worker on its own lcore and waits (bounded, Ctrl-C ends
    // it) for all of them. The first failure, by worker index, is the error.
    auto start_workers = [&]() -> flowgen::Status {
        if (L->single_thread) {
            init_on_lcore(L->slots[0].get());
        } else {
            size_t launched = 0;
            flowgen::Status launch_failed;
            for (; launched < L->slots.size(); ++launched) {
                WorkerSlot& s = *L->slots[launched];
                if (const int rc = rte_eal_remote_launch(init_on_lcore, &s, s.lcore); rc != 0) {
                    launch_failed = flowgen::Status::error("worker " + std::to_string(s.index) + " (lcore " +
                                                           std::to_string(s.lcore) +
                                                           "): rte_eal_remote_launch: " + errstr(rc));
                    break;
                }
            }
            const uint64_t deadline = rte_get_timer_cycles() +
                                      static_cast<uint64_t>(kWorkerInitSeconds * static_cast<double>(rte_get_timer_hz()));
            for (size_t i = 0; i < launched; ++i) {
                WorkerSlot& s = *L->slots[i];
                while (!s.init_done.load(std::memory_order_acquire)) {
                    if (stop_requested() || rte_get_timer_cycles() > deadline) {
                        abandoned = true;
                        return flowgen::Status::error(
                            "worker " + std::to_string(s.index) + " (lcore " + std::to_string(s.lcore) + "): " +
                            (stop_requested() ? std::string("start-up interrupted while it built its tables")
                                              : "did not finish building its tables within " +
                                                    std::to_string(static_cast<int>(kWorkerInitSeconds)) + " s"));
                    }
                    rte_delay_us_sleep(1000);
                }
                // init_on_lcore has returned or is returning: its lcore goes
                // back to WAIT, ready for worker_main.
                rte_eal_wait_lcore(s.lcore);
            }
            if (!launch_failed.ok()) return launch_failed;
        }
        for (auto& s : L->slots) {
            if (!s->init_status.ok())
                return s->init_status.prefix("worker " + std::to_string(s->index) + " (lcore " +
                                             std::to_string(s->lcore) + ", socket " + std::to_string(s->socket) +
                                             ")");
            L->workers.push_back(s->worker.get());
            if (!config.quiet)
                std::fprintf(stderr, "echoflow: worker %u: lcore %u, socket %u; %s\n", s->index, s->lcore, s->socket,
                             s->placement.c_str());
        }
        return {};
    };

    auto startup = [&]() -> flowgen::Status {
        if (L->ports.empty())
            return flowgen::Status::error(
                "no ports: bind a NIC to vfio-pci (dpdk-devbind.py) or add a --vdev (net_pcap, net_af_xdp, ...)");
        // Compiled (or loaded from the cache) once, here; every worker scans
        // these databases with a scratch of its own.
        std::shared_ptr<const detect::PatternDatabases> patterns;
        if (config.detect) {
            if (flowgen::Status st = L->senders.init(config.detection.source_table_entries); !st.ok()) return st;
            if (!config.detection.patterns_path.empty())
                if (flowgen::Status st = detect::PatternDatabases::load_file(
                        config.detection.patterns_path, config.detection.pattern_cache_dir, patterns);
                    !st.ok())
                    return st;
        }
        unsigned workers_on_socket[RTE_MAX_NUMA_NODES] = {};
        for (unsigned i = 0; i < nworkers; ++i) {
            auto s = std::make_unique<WorkerSlot>();
            s->live = L.get();
            s->index = i;
            s->lcore = L->single_thread ? rte_get_main_lcore() : worker_lcores[i];
            s->socket = rte_lcore_to_socket_id(s->lcore);
            if (s->socket >= RTE_MAX_NUMA_NODES) s->socket = 0;  // SOCKET_ID_ANY: an lcore without a known node
            ++workers_on_socket[s->socket];
            WorkerSettings& ws = s->settings;
            ws.id = static_cast<uint16_t>(i);
            ws.cache = config.cache;
            ws.detect = config.detect;
            ws.detection = &config.detection;
            ws.senders = &L->senders;
            ws.patterns = patterns;
            ws.parse = config.parse;
            ws.dedup_window_ms = config.dedup_window_ms;
            ws.fold = config.fold;
            L->slots.push_back(std::move(s));
        }
        if (flowgen::Status st = start_workers(); !st.ok()) return st;

        // One pool per socket with workers, sized for them: the RX rings of
        // every queue they poll (up to one per worker per port), a burst in
        // flight per worker, the hand-over rings their frames may fill
        // (to every other worker), and the per-lcore caches of the pool
        // (mbufs parked there are not available to other lcores). --mbufs
        // replaces the estimate of each pool: a driver that holds more than
        // its ring (net_pcap infinite_rx=1 copies the whole capture into
        // mbufs) needs it.
        for (unsigned socket = 0; socket < RTE_MAX_NUMA_NODES; ++socket) {
            const unsigned k = workers_on_socket[socket];
            if (k == 0) continue;
            const unsigned estimate = static_cast<unsigned>(L->ports.size()) * k * (kRxDescriptors + Worker::kMaxBurst) +
                                      k * (nworkers - 1) * kRingSize + (nworkers + 1) * kPoolCache;
            const unsigned mbufs = config.mbufs ? config.mbufs : std::max<unsigned>(8191, estimate);
            const std::string name = "echoflow_mbufs_s" + std::to_string(socket);
            rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), mbufs, kPoolCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                                        static_cast<int>(socket));
            if (!pool)
                return flowgen::Status::error("mbuf pool " + name + " of " + std::to_string(mbufs) + " mbufs: " +
                                              rte_strerror(rte_errno) + " (hugepages? lower --mbufs)");
            L->pools[socket] = pool;
            if (!config.quiet) {
                const void* first = nullptr;
                rte_mempool_mem_iter(
                    pool,
                    [](rte_mempool*, void* opaque, rte_mempool_memhdr* hdr, unsigned) {
                        auto** out = static_cast<const void**>(opaque);
                        if (*out == nullptr) *out = hdr->addr;
                    },
                    &first);
                std::fprintf(stderr, "echoflow: mbuf pool %s: %u mbufs for %u worker(s) on socket %u; memory on %s\n",
                             name.c_str(), mbufs, k, socket, describe_node_of(first).c_str());
            }
        }

        bool any_distribute = false;
        for (uint16_t p : L->ports) {
            PortSpread plan;
            if (flowgen::Status st = setup_port(*L, p, nworkers, plan); !st.ok())
                return st.prefix("port " + std::to_string(p));
            any_distribute |= plan.spread != Spread::kNone;
            if (plan.rss) ++(plan.inner_rss ? L->totals.rss_inner_ports : L->totals.rss_outer_ports);
            for (uint16_t q = 0; q < plan.queues; ++q)
                L->slots[slot_of_queue(plan, p, q, nworkers)]->queues.push_back({p, q, plan.spread});
        }
        if (any_distribute) {
            for (auto& from : L->slots) from->outbox.assign(nworkers, nullptr);
            for (auto& from : L->slots)
                for (auto& to : L->slots) {
                    if (from == to) continue;
                    const std::string name = "ef_" + std::to_string(from->index) + "_" + std::to_string(to->index);
                    // On the socket of the worker that reads it.
                    rte_ring* r = rte_ring_create_elem(name.c_str(), sizeof(ParsedFrame), kRingSize,
                                                       static_cast<int>(to->socket), RING_F_SP_ENQ | RING_F_SC_DEQ);
                    if (!r) return flowgen::Status::error("ring " + name + ": " + rte_strerror(rte_errno));
                    from->outbox[to->index] = r;
                    to->inbox.push_back(r);
                }
        }
        if (flowgen::Status st = L->exporter.open(config, config.detect ? &L->workers[0]->detectors() : nullptr);
            !st.ok())
            return st;
        if (L->single_thread) L->workers[0]->set_overflow(&ExportLoop::overflow_to_exporter, &L->exporter);
        // The af_xdp PMD attached icmp_steer when the port started.
        // Give it the parser's encapsulations and VXLAN/Geneve ports.
        if (!options.xdp_interface.empty())
            if (flowgen::Status st = set_xdp_config(options.xdp_interface, config.parse, options.xdp_drop_other);
                !st.ok())
                return st;
        // Read at the end, when finding the map would need CAP_SYS_ADMIN.
        if (!options.xdp_interface.empty())
            if (flowgen::Status st = open_xdp_counters(options.xdp_interface, L->xdp_counters_fd); !st.ok())
                return st;
        return {};
    };

    // Everything privileged is done (the EAL created the telemetry socket):
    // give up root before the first frame is parsed.
    auto switch_user = [&]() -> flowgen::Status {
        if (!options.identity) return {};
        const std::vector<cap_value_t> keep = kept_capabilities(L->kernel_interface);
        if (flowgen::Status st = drop_privileges(*options.identity, keep); !st.ok())
            return st.prefix("--user " + options.identity->user);
        if (!config.quiet)
            std::fprintf(stderr, "echoflow: running as %s\n", describe_identity(*options.identity, keep).c_str());
        return {};
    };

    flowgen::Status started = startup();
    if (started.ok()) started = register_telemetry(L->workers, L->exporter, L->ports, L->xdp_counters_fd);
    if (started.ok()) started = switch_user();
    if (!started.ok() && abandoned) {
        // A worker's lcore may still write into its slot: leave the slots
        // and the EAL as they are; the process ends.
        fail(started.message());
        (void)L.release();
        return 1;
    }
    if (!started.ok()) {
        fail(started.message());
        exit_code = 1;
    } else {
        L->clock.start();
        L->exporter.set_wall_offset_ms(L->clock.wall_offset_ms());
        const TscClock& main_clock = L->clock;
        if (!config.quiet)
            std::fprintf(stderr, "echoflow: %zu port(s), %u worker(s)%s; stop with Ctrl-C\n", L->ports.size(),
                         nworkers, L->single_thread ? " on the main lcore" : "");
        if (L->single_thread) {
            worker_main(L->slots[0].get());
        } else {
            for (size_t i = 0; i < L->slots.size(); ++i) {
                WorkerSlot& s = *L->slots[i];
                const int rc = rte_eal_remote_launch(worker_main, &s, s.lcore);
                if (rc == 0) continue;
                // The workers already launched stop, drain and flush; this
                // one and those after it never run: they count as stopped
                // and done, so that nothing waits for them.
                fail("lcore " + std::to_string(s.lcore) + ": rte_eal_remote_launch: " + errstr(rc));
                exit_code = 1;
                request_stop();
                for (size_t j = i; j < L->slots.size(); ++j) {
                    L->rx_stopped.fetch_add(1, std::memory_order_acq_rel);
                    L->slots[j]->done.store(true, std::memory_order_release);
                }
                break;
            }
            double next_poll = 0;
            ProgressReport progress(config.stats_interval_s, main_clock.elapsed_seconds());
            auto all_done = [&] {
                for (auto& s : L->slots)
                    if (!s->done.load(std::memory_order_acquire)) return false;
                return true;
            };
            while (!all_done()) {
                const uint64_t now = main_clock.now_ms();
                // Idle queues: the main lcore sleeps instead of spinning.
                if (export_step(*L, now, next_poll, progress) == 0)
                    rte_delay_us_sleep(500);
            }
            rte_eal_mp_wait_lcore();
        }
        const uint64_t now = main_clock.now_ms();
        L->exporter.drain_all(L->workers, now);
        L->totals.elapsed_seconds = main_clock.elapsed_seconds();
        for (uint16_t p : L->ports)
            if (const int rc = rte_eth_dev_stop(p); rc != 0)
                fail("port " + std::to_string(p) + ": rte_eth_dev_stop: " + errstr(rc));
        read_port_counters(L->ports, L->totals);
        read_xdp_group(L->xdp_counters_fd, L->totals);
        // Telemetry reads the workers and the exporter: detach it first.
        unregister_telemetry();
        if (flowgen::Status st = end_of_run(config, L->workers, L->exporter, now, L->totals); !st.ok()) {
            fail(st.message());
            exit_code = 1;
        }
    }
    // Also after a failed start-up: ports switched on before it failed.
    for (uint16_t p : L->promiscuous_set) (void)rte_eth_promiscuous_disable(p);
    for (uint16_t p : L->ports)
        if (const int rc = rte_eth_dev_close(p); rc != 0)
            fail("port " + std::to_string(p) + ": rte_eth_dev_close: " + errstr(rc));
    if (L->xdp_counters_fd >= 0) close(L->xdp_counters_fd);
    L.reset();
    rte_eal_cleanup();
    return exit_code;
}

}  // namespace probe
