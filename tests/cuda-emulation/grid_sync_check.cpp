// Checks grid_barrier (src/Aim.Engine.Cuda/Kernels/grid_sync.cuh) and emu::launch_cooperative (cuda_emu.hpp):
//   (a) grid_sync.cu's grid_barrier_bench completes for 1, 3, 8 blocks × 32 / 256 threads (and a 2-D block) and
//       leaves the barrier words at count 0, generation == iterations;
//   (b) exchange_rounds (kernels/grid_sync_test.cu): blocks write slots, meet, read every block's slots, for several
//       rounds; every read is right, and each block's dynamic shared memory is its own;
//   (c) mutations: no grid barrier, grid_barrier without its trailing or without its leading __syncthreads each read
//       stale slots under at least one of the two cooperative schedules ((a), (b) and (d) run under both);
//   (d) deadlocks: a block that skips a barrier makes launch_cooperative return false naming the stuck blocks; a
//       grid barrier under the sequential emu::launch and a static __shared__ variable under launch_cooperative abort
//       with their messages (run in a forked child).
// Usage: grid_sync_check        (exit status 0 when everything holds)
#include "cuda_emu.hpp"
#include "grid_sync.cu"
#include "grid_sync_test.cu"

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

static int failures = 0;

#define CHECK(cond, ...)                                                                                               \
    do                                                                                                                 \
    {                                                                                                                  \
        if (!(cond))                                                                                                   \
        {                                                                                                              \
            failures++;                                                                                                \
            std::printf("  FAIL: ");                                                                                   \
            std::printf(__VA_ARGS__);                                                                                  \
            std::printf("\n");                                                                                         \
        }                                                                                                              \
    } while (0)

// (a)
static void bench(dim3 grid, dim3 block, int iters)
{
    unsigned barrier[2] = {0, 0};
    std::vector<float> sink(grid.x, 7.0f);
    bool ok = emu::launch_cooperative(grid, block, 0, grid_barrier_bench, barrier, iters, sink.data());
    bool sinkKept = std::all_of(sink.begin(), sink.end(), [](float v) { return v == 7.0f; });
    CHECK(ok && barrier[0] == 0 && barrier[1] == (unsigned)iters && sinkKept,
          "grid_barrier_bench %u blocks × (%u,%u) threads, %d iterations: completed %d, count %u, generation %u", grid.x,
          block.x, block.y, iters, ok, barrier[0], barrier[1]);
    std::printf("  grid_barrier_bench %u × (%u,%u), %d barriers: %s (count %u, generation %u)\n", grid.x, block.x, block.y,
                iters, ok ? "completed" : "DEADLOCK", barrier[0], barrier[1]);
}

// Runs exchange_rounds; returns the number of wrong reads, or -1 when the launch deadlocked.
static long long exchange(unsigned blocks, unsigned threads, int rounds, int mode, unsigned* generationOut = nullptr)
{
    unsigned barrier[2] = {0, 0};
    std::vector<unsigned> slots((size_t)blocks * threads, 0xdeadbeefu), errors((size_t)blocks * threads, 0xdeadbeefu);
    bool ok = emu::launch_cooperative(dim3(blocks), dim3(threads), threads * sizeof(unsigned), exchange_rounds, barrier,
                                      slots.data(), errors.data(), rounds, mode);
    if (generationOut) *generationOut = barrier[1];
    if (!ok) return -1;
    long long bad = 0;
    for (unsigned e : errors) bad += e;
    return bad;
}

// Runs f in a forked child with stderr captured; returns true when the child aborted (SIGABRT) and its stderr
// contains `expect`.
template <typename F> static bool aborts_with(F f, const char* expect, std::string& text)
{
    int fds[2];
    if (pipe(fds) != 0) return false;
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
    {
        close(fds[0]);
        dup2(fds[1], 2);
        f();
        std::_Exit(0);
    }
    close(fds[1]);
    char buf[4096];
    ssize_t n;
    text.clear();
    while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, (size_t)n);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && text.find(expect) != std::string::npos;
}

static const char* schedule_name(emu::Schedule s)
{
    return s == emu::Schedule::RunAhead ? "RunAhead" : "PreemptAtAtomics";
}

int main()
{
    const emu::Schedule schedules[] = {emu::Schedule::RunAhead, emu::Schedule::PreemptAtAtomics};
    for (emu::Schedule s : schedules)
    {
        emu::cooperative_schedule() = s;
        std::printf("(a) grid_barrier_bench under emu::launch_cooperative, schedule %s\n", schedule_name(s));
        for (unsigned blocks : {1u, 3u, 8u})
            for (unsigned threads : {32u, 256u}) bench(dim3(blocks), dim3(threads), 12);
        bench(dim3(3), dim3(16, 2), 12); // 2-D block: exactly one arrival per block

        std::printf("(b) exchange_rounds: write slot, grid_barrier, read all slots (5 rounds), schedule %s\n", schedule_name(s));
        for (unsigned blocks : {1u, 3u, 8u})
            for (unsigned threads : {32u, 256u})
            {
                unsigned generation = 0;
                long long bad = exchange(blocks, threads, 5, ExchangeGridBarrier, &generation);
                CHECK(bad == 0 && generation == 10, "exchange %u × %u: %lld wrong reads, generation %u (want 10)", blocks,
                      threads, bad, generation);
                std::printf("  %u blocks × %u threads: %lld wrong reads of %llu, generation %u\n", blocks, threads, bad,
                            5ull * blocks * threads * (blocks + 1), generation);
            }
    }
    {
        unsigned barrier[2] = {0, 0};
        float sink = 0;
        emu::launch(dim3(1), dim3(64), 0, grid_barrier_bench, barrier, 5, &sink); // one block needs no co-residency
        CHECK(barrier[0] == 0 && barrier[1] == 5, "grid_barrier_bench, 1 block under emu::launch: count %u, generation %u",
              barrier[0], barrier[1]);
    }

    std::printf("(c) mutations (8 blocks × 64 threads, 3 rounds): each must give wrong reads under some schedule\n");
    struct Mutation { int mode; const char* what; };
    for (Mutation m : {Mutation{ExchangeBlockOnly, "__syncthreads instead of grid_barrier"},
                       Mutation{ExchangeNoTrailing, "grid_barrier without its trailing __syncthreads"},
                       Mutation{ExchangeNoLeading, "grid_barrier without its leading __syncthreads"}})
    {
        bool caught = false;
        std::printf("  %s:", m.what);
        for (emu::Schedule s : schedules)
        {
            emu::cooperative_schedule() = s;
            long long bad = exchange(8, 64, 3, m.mode);
            caught |= bad > 0;
            std::printf(" %s %lld wrong reads;", schedule_name(s), bad);
        }
        std::printf(" -> %s\n", caught ? "caught" : "NOT CAUGHT");
        CHECK(caught, "mutation '%s' was not caught", m.what);
    }
    emu::cooperative_schedule() = emu::Schedule::RunAhead;

    std::printf("(d) deadlock detection\n");
    for (emu::Schedule s : schedules)
    {
        emu::cooperative_schedule() = s;
        std::fflush(stdout);
        long long r = exchange(4, 64, 3, ExchangeLastSkips);
        const std::string& e = emu::last_error();
        CHECK(r == -1, "a block skipping a grid barrier (%s): launch_cooperative returned true", schedule_name(s));
        CHECK(e.find("grid deadlock") != std::string::npos && e.find("block 0,0,0: 1 spinning (threads 0)") != std::string::npos,
              "deadlock report does not name the stuck blocks: %s", e.c_str());
        std::printf("  last block skips a barrier (%s): launch_cooperative returned %s\n", schedule_name(s),
                    r == -1 ? "false (report on stderr)" : "true");
        // The emulator is reusable after a reported deadlock.
        long long again = exchange(3, 32, 2, ExchangeGridBarrier);
        CHECK(again == 0, "a launch after a deadlock: %lld wrong reads", again);
    }
    emu::cooperative_schedule() = emu::Schedule::RunAhead;
    {
        std::string text;
        bool ok = aborts_with([] {
            unsigned barrier[2] = {0, 0};
            float sink = 0;
            emu::launch(dim3(3), dim3(32), 0, grid_barrier_bench, barrier, 2, &sink);
        }, "launch such kernels with emu::launch_cooperative", text);
        CHECK(ok, "grid barrier under the sequential emu::launch did not abort with its message: %s", text.c_str());
        std::printf("  grid barrier under emu::launch (3 blocks): %s\n", ok ? "aborts with the launch_cooperative hint" : "NO ABORT");
    }
    {
        std::vector<unsigned> out(3, 0);
        emu::launch(dim3(3), dim3(32), 0, static_shared_user, out.data());
        CHECK(out[0] == 496 && out[1] == 496 && out[2] == 496, "static_shared_user under emu::launch: %u %u %u", out[0], out[1], out[2]);
        std::string text;
        bool ok = aborts_with([] {
            std::vector<unsigned> o(3, 0);
            (void)emu::launch_cooperative(dim3(3), dim3(32), 0, static_shared_user, o.data());
        }, "static __shared__ variable declared at", text);
        CHECK(ok, "static __shared__ under launch_cooperative did not abort with its message: %s", text.c_str());
        std::printf("  static __shared__ under launch_cooperative: %s\n", ok ? "aborts naming the declaration" : "NO ABORT");
        if (ok) std::printf("    %s", text.substr(text.find("cuda_emu:")).c_str());
    }

    std::printf("grid_sync_check: %s (%d failures; %llu spin yields in total)\n", failures == 0 ? "pass" : "FAIL", failures,
                emu::stats().spins);
    return failures == 0 ? 0 : 1;
}
