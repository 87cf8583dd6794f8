// oneTBB flow graph on the scheduler shapes of perf/BENCHMARKS.md §1 (and latency10).
//
//   flowgraph --workload NAME [--n N] [--threads T] [--variant continue|function] [--reps R]
//
// Variant `continue` (all shapes): one continue_node per task; values live in a shared array,
// each node reading its predecessors' slots (the graph's edges order the accesses).
// Both are built and run inside a task_arena of T threads (the caller is one of them).
// Variant `function` (independent, chain): function_nodes passing the values as messages.
// Ops wrap at 2^32 like every other engine here, so `check` agrees across engines.
// Prints one JSON line; exits 3 for a workload the variant cannot express.

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/version.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace flow = tbb::flow;
using Clock = std::chrono::steady_clock;
using ContinueNode = flow::continue_node<flow::continue_msg>;

static double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// VmHWM: unlike getrusage, it does not count the memory of whoever forked and exec'ed us.
static long long peak_rss_bytes() {
    long long kb = 0;
    if (FILE* f = fopen("/proc/self/status", "r")) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
        fclose(f);
    }
    return kb * 1024;
}

// splitmix64 and the random DAG, exactly as perf/py/common.py defines them.
struct SplitMix64 {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
};

struct Csr {
    std::vector<uint32_t> offsets{0}, deps, sinks;
};

static Csr random_dag(size_t n, uint64_t seed = 42) {
    Csr g;
    SplitMix64 rng{seed};
    std::vector<char> has_user(n, 0);
    g.offsets.reserve(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            size_t k = 1 + rng.next() % 4;
            std::vector<uint32_t> d;
            for (size_t r = 0; r < k; r++) d.push_back(uint32_t(rng.next() % i));
            std::sort(d.begin(), d.end());
            d.erase(std::unique(d.begin(), d.end()), d.end());
            for (uint32_t j : d) { g.deps.push_back(j); has_user[j] = 1; }
        }
        g.offsets.push_back(uint32_t(g.deps.size()));
    }
    for (size_t i = 0; i < n; i++)
        if (!has_user[i]) g.sinks.push_back(uint32_t(i));
    return g;
}

// A built graph: its nodes, the nodes to kick off, and where the answer lands.
struct Built {
    flow::graph g;
    std::deque<ContinueNode> nodes;
    std::vector<ContinueNode*> roots;
    std::vector<uint32_t> vals;
    size_t out = 0;

    template <class F>
    ContinueNode& add(F body) {
        nodes.emplace_back(g, [body](const flow::continue_msg&) { body(); });
        return nodes.back();
    }
    void run() {
        for (ContinueNode* r : roots) r->try_put(flow::continue_msg());
        g.wait_for_all();
    }
};

static void build_continue(Built& b, const std::string& w, size_t n, const Csr* dag) {
    auto& vals = b.vals;
    uint32_t* v = nullptr;
    if (w == "independent") {
        vals.assign(n + 1, 0);
        v = vals.data();
        for (size_t i = 0; i < n; i++) b.roots.push_back(&b.add([v, i] { v[i] = uint32_t(i) + 1; }));
        ContinueNode& join = b.add([v, n] {
            uint32_t s = 0;
            for (size_t i = 0; i < n; i++) s += v[i];
            v[n] = s;
        });
        for (size_t i = 0; i < n; i++) flow::make_edge(b.nodes[i], join);
        b.out = n;
    } else if (w == "chain") {
        vals.assign(n, 0);
        v = vals.data();
        b.roots.push_back(&b.add([v] { v[0] = 1; }));
        for (size_t i = 1; i < n; i++) {
            ContinueNode& node = b.add([v, i] { v[i] = v[i - 1] + 1; });
            flow::make_edge(b.nodes[i - 1], node);
        }
        b.out = n - 1;
    } else if (w == "tree") {
        vals.assign(2 * n - 1, 0);
        v = vals.data();
        std::vector<size_t> level;
        for (size_t i = 0; i < n; i++) {
            b.roots.push_back(&b.add([v, i] { v[i] = uint32_t(i) + 1; }));
            level.push_back(i);
        }
        size_t next_id = n;
        while (level.size() > 1) {
            std::vector<size_t> up;
            for (size_t j = 0; j + 1 < level.size(); j += 2) {
                size_t l = level[j], r = level[j + 1], id = next_id++;
                ContinueNode& node = b.add([v, l, r, id] { v[id] = v[l] + v[r]; });
                flow::make_edge(b.nodes[l], node);
                flow::make_edge(b.nodes[r], node);
                up.push_back(id);
            }
            if (level.size() % 2) up.push_back(level.back());
            level.swap(up);
        }
        b.out = level[0];
    } else if (w == "wavefront") {
        size_t s = (size_t)std::sqrt((double)n);
        while ((s + 1) * (s + 1) <= n) s++;
        while (s * s > n) s--;
        vals.assign(s * s, 0);
        v = vals.data();
        for (size_t i = 0; i < s; i++)
            for (size_t j = 0; j < s; j++) {
                size_t id = i * s + j;
                ContinueNode& node = b.add([v, i, j, s, id] {
                    uint32_t x = (i == 0 && j == 0) ? 1 : 0;
                    if (i > 0) x += v[id - s];
                    if (j > 0) x += v[id - 1];
                    v[id] = x;
                });
                if (i > 0) flow::make_edge(b.nodes[id - s], node);
                if (j > 0) flow::make_edge(b.nodes[id - 1], node);
            }
        b.roots.push_back(&b.nodes[0]);
        b.out = s * s - 1;
    } else if (w == "random_dag" || w == "latency10") {
        // latency10 is a diamond: root, 8 tasks on it, one join (10 tasks).
        const uint32_t* off = dag ? dag->offsets.data() : nullptr;
        const uint32_t* deps = dag ? dag->deps.data() : nullptr;
        if (w == "latency10") n = 10;
        vals.assign(n + 1, 0);  // random_dag: slot n holds the join
        v = vals.data();
        if (w == "random_dag") {
            for (size_t i = 0; i < n; i++) {
                ContinueNode& node = b.add([v, off, deps, i] {
                    uint32_t x = 1;
                    for (uint32_t k = off[i]; k < off[i + 1]; k++) x += v[deps[k]];
                    v[i] = x;
                });
                for (uint32_t k = off[i]; k < off[i + 1]; k++) flow::make_edge(b.nodes[deps[k]], node);
            }
            const std::vector<uint32_t>* sinks = &dag->sinks;
            ContinueNode& join = b.add([v, sinks, n] {
                uint32_t s = 0;
                for (uint32_t k : *sinks) s += v[k];
                v[n] = s;
            });
            for (uint32_t k : *sinks) flow::make_edge(b.nodes[k], join);
            b.out = n;
        } else {
            b.add([v] { v[0] = 1; });
            for (size_t i = 1; i <= 8; i++) {
                flow::make_edge(b.nodes[0], b.add([v, i] { v[i] = v[0] + uint32_t(i - 1); }));
            }
            ContinueNode& join = b.add([v] {
                uint32_t s = 0;
                for (int i = 1; i <= 8; i++) s += v[i];
                v[9] = s;
            });
            for (size_t i = 1; i <= 8; i++) flow::make_edge(b.nodes[i], join);
            b.out = 9;
        }
        b.roots.push_back(&b.nodes[0]);
    }
}

struct Result {
    double build_seconds = 0, seconds = 0;
    uint64_t check = 0;
};

// function_node variant: values travel as messages.
static bool run_function(const std::string& w, size_t n, Result& res) {
    flow::graph g;
    auto t0 = Clock::now();
    if (w == "independent") {
        uint32_t sum = 0;
        flow::function_node<uint32_t, uint32_t> work(g, flow::unlimited, [](uint32_t i) { return i + 1; });
        flow::function_node<uint32_t> join(g, flow::serial, [&sum](uint32_t x) { sum += x; return flow::continue_msg(); });
        flow::make_edge(work, join);
        res.build_seconds = -1;  // two nodes, whatever N: no per-task build cost to report
        auto once = [&] {
            sum = 0;
            for (size_t i = 0; i < n; i++) work.try_put(uint32_t(i));
            g.wait_for_all();
        };
        once();  // warm-up
        t0 = Clock::now();
        once();
        res.seconds = seconds_since(t0);
        res.check = sum;
        return true;
    }
    if (w == "chain") {
        uint32_t last = 0;
        std::deque<flow::function_node<uint32_t, uint32_t>> nodes;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n)
                nodes.emplace_back(g, flow::serial, [](uint32_t x) { return x + 1; });
            else
                nodes.emplace_back(g, flow::serial, [&last](uint32_t x) { return last = x + 1; });
            if (i > 0) flow::make_edge(nodes[i - 1], nodes[i]);
        }
        res.build_seconds = seconds_since(t0);
        nodes[0].try_put(0);  // warm-up
        g.wait_for_all();
        t0 = Clock::now();
        nodes[0].try_put(0);
        g.wait_for_all();
        res.seconds = seconds_since(t0);
        res.check = last;
        return true;
    }
    return false;
}

static bool run_continue(const std::string& w, size_t n, int reps, Result& res) {
    static const char* known[] = {"independent", "chain", "tree", "wavefront", "random_dag", "latency10"};
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return w == k; }) == std::end(known))
        return false;
    Csr dag;
    if (w == "random_dag") dag = random_dag(n);  // generating the DAG is not part of the build
    Built b;
    auto t0 = Clock::now();
    build_continue(b, w, n, &dag);
    res.build_seconds = seconds_since(t0);
    if (w == "latency10") {
        std::vector<double> t;
        for (int r = 0; r < 100; r++) b.run();  // warm-up
        for (int r = 0; r < reps; r++) {
            t0 = Clock::now();
            b.run();
            t.push_back(seconds_since(t0));
        }
        std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
        res.seconds = t[t.size() / 2];
    } else {
        b.run();  // warm-up: nodes reset their counts after firing, so the graph runs again
        t0 = Clock::now();
        b.run();
        res.seconds = seconds_since(t0);
    }
    res.check = b.vals[b.out];
    return true;
}

int main(int argc, char** argv) {
    std::string workload, variant = "continue";
    size_t n = 1000000;
    int threads = 2, reps = 10000;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) { fprintf(stderr, "missing value for %s\n", a.c_str()); exit(2); }
            return argv[++i];
        };
        if (a == "--workload") workload = val();
        else if (a == "--n") n = (size_t)std::stod(val());
        else if (a == "--threads") threads = std::stoi(val());
        else if (a == "--variant") variant = val();
        else if (a == "--reps") reps = std::stoi(val());
        else if (a == "--json") {}
        else { fprintf(stderr, "unknown argument %s\n", a.c_str()); return 2; }
    }
    if (n < 1) { fprintf(stderr, "--n must be >= 1\n"); return 2; }
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);

    Result res;
    // Build and run inside an arena so the main thread is one of the workers: its try_puts
    // spawn locally instead of going through the slower external submission path.
    bool ok = false;
    tbb::task_arena arena(threads);
    arena.execute([&] {
        ok = variant == "continue"   ? run_continue(workload, n, reps, res)
             : variant == "function" ? run_function(workload, n, res)
                                     : false;
    });
    if (!ok) {
        fprintf(stderr, "tbb-%s: unsupported workload '%s'\n", variant.c_str(), workload.c_str());
        return 3;
    }
    size_t tasks = workload == "tree" ? 2 * n - 1 : workload == "latency10" ? 10 : n;
    if (workload == "wavefront") {
        size_t s = (size_t)std::sqrt((double)n);
        while (s * s > n) s--;
        tasks = s * s;
    }
    if (workload == "latency10") n = 10;
    char build[64] = "";
    if (res.build_seconds >= 0) snprintf(build, sizeof build, "\"build_seconds\": %.9g, ", res.build_seconds);
    printf("{\"engine\": \"tbb-%s\", \"workload\": \"%s\", \"n\": %zu, \"seconds\": %.9g, "
           "\"peak_rss_bytes\": %lld, \"tasks\": %zu, %s\"check\": %llu, \"threads\": %d, "
           "\"version\": \"%s\"}\n",
           variant.c_str(), workload.c_str(), n, res.seconds, peak_rss_bytes(), tasks, build,
           (unsigned long long)res.check, threads, TBB_runtime_version());
    return 0;
}
