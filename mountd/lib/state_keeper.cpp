#include "mountd/lib/state_keeper.hpp"

#include <pthread.h>
#include <algorithm>

#include "core/saved_sadb.hpp"
#include "core/state_codec.hpp"

namespace ipsecfs::mountd {
namespace {

constexpr int64_t kNsPerSecond = 1'000'000'000;

uint64_t sequence_limit_of(const Sa& sa) {
    return sa.config().esn ? OutboundSequence::kLast64 : OutboundSequence::kLast32;
}

// Packets per second from `from` to `to` over dt_ns (0 when the clock did not move forward).
uint64_t rate(uint64_t from, uint64_t to, int64_t dt_ns) {
    if (dt_ns <= 0 || to <= from) return 0;
    const auto per_s = static_cast<long double>(to - from) * kNsPerSecond / dt_ns;
    return per_s >= static_cast<long double>(UINT64_MAX / 4) ? UINT64_MAX / 4
                                                             : static_cast<uint64_t>(per_s);
}

}  // namespace

Result<std::unique_ptr<StateKeeper>> StateKeeper::open(const Options& options, Sadb& sadb,
                                                       Environment env) {
    auto store = StateStore::open(options.path);
    if (!store) return std::move(store).take_error();
    const std::string path = store->path();

    // The problem with the file, if any: unreadable, damaged, or not restorable.
    std::string problem;
    std::optional<SavedSadb> saved;
    if (auto loaded = store->load(); !loaded) {
        problem = loaded.error();
    } else if (!loaded->missing) {
        if (loaded->decoded.problem == StateProblem::none) {
            saved = std::move(loaded->decoded.state);
        } else {
            problem = "state file " + path + ": " + loaded->decoded.message;
        }
    }
    std::optional<Sadb::Transaction> tx;
    if (saved) {
        tx.emplace(sadb.begin());
        if (auto r = tx->restore(*saved); !r) {
            problem = "state file " + path + ": cannot restore " + r.error();
            tx.reset();
        }
    }
    if (!problem.empty()) {
        if (!options.discard) return fail(problem + "; --discard-state moves it aside");
        auto moved = store->move_aside(env.now_ns() / kNsPerSecond);
        if (!moved) return fail(problem + "; " + moved.error());
        env.log(problem + "; discarded it (moved to " + *moved + "), starting with no SAs");
    }

    std::unique_ptr<StateKeeper> keeper(new StateKeeper(options, sadb, env, std::move(*store)));
    if (tx) {
        tx->commit();
        tx.reset();
        std::string line = "restored " + std::to_string(saved->sas.size()) + " SAs, " +
                           std::to_string(saved->groups.size()) + " groups, " +
                           std::to_string(saved->eroutes.size()) + " eroutes from " + path;
        if (!saved->clean_shutdown)
            line += " (not saved at a clean stop: counters are those of its last periodic write)";
        keeper->env_.log(line);
        if (auto r = keeper->save(); !r) return std::move(r).take_error();
    }
    return keeper;
}

StateKeeper::~StateKeeper() {
    {
        std::lock_guard lock(thread_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

Result<void> StateKeeper::save() {
    std::lock_guard lock(mutex_);
    return write(false);
}

void StateKeeper::on_commit() {
    std::lock_guard lock(mutex_);
    report(write(false));
}

void StateKeeper::start() {
    thread_ = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "ipsec-state");
        loop();
    });
}

Result<void> StateKeeper::stop() {
    {
        std::lock_guard lock(thread_mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return write(true);
}

void StateKeeper::loop() {
    std::unique_lock lock(thread_mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, options_.scan);
        if (stopping_) break;
        lock.unlock();
        pass();
        lock.lock();
    }
}

void StateKeeper::pass() {
    std::lock_guard lock(mutex_);
    if (!extension_due()) {
        const bool quiet = env_.activity() == written_activity_;
        if (quiet || std::chrono::steady_clock::now() - written_at_ < options_.periodic) return;
    }
    report(write(false));
}

bool StateKeeper::extension_due() {
    const uint64_t activity = env_.activity();
    if (const uint64_t gen = sadb_.generation(); gen != watched_generation_) {
        const SadbSnapshotPtr snap = sadb_.snapshot();
        watched_generation_ = snap->generation();
        watched_.clear();
        for (const auto& [said, sa] : snap->sas()) {
            if (SequenceReservation* r = env_.reservation_of ? env_.reservation_of(*sa) : nullptr)
                watched_.emplace_back(sa, r);
        }
        slack_ = 0;
    }
    if (activity - scanned_activity_ < slack_) return false;
    scanned_activity_ = activity;
    slack_ = UINT64_MAX;
    for (const auto& [sa, r] : watched_) {
        const auto g = grants_.find(sa->id());
        const uint64_t block =
            g == grants_.end() ? SequenceReservation::kMinBlock : g->second.block;
        const uint64_t last = sa->counters().seq.get();
        const uint64_t mark = r->mark();
        if (SequenceReservation::due(last, mark, block, sequence_limit_of(*sa))) {
            slack_ = 0;
            return true;
        }
        // Halved: a packet may publish its number before it is counted.
        if (mark < sequence_limit_of(*sa)) slack_ = std::min(slack_, (mark - last - block / 2) / 2);
    }
    return false;
}

Result<void> StateKeeper::write(bool final) {
    const uint64_t activity = env_.activity();
    const int64_t now = env_.now_ns();
    const SadbSnapshotPtr snap = sadb_.snapshot();
    SavedSadb saved = save_sadb(*snap, now);
    saved.clean_shutdown = final;

    // The marks this write makes durable; raised only once it landed.
    std::vector<std::pair<SequenceReservation*, uint64_t>> raises;
    std::unordered_map<uint64_t, Grant> grants;
    std::size_t i = 0;
    for (const auto& [said, sa] : snap->sas()) {
        SavedSa& s = saved.sas[i++];
        SequenceReservation* r = env_.reservation_of ? env_.reservation_of(*sa) : nullptr;
        if (!r) continue;
        const uint64_t last = sa->counters().seq.get();
        const uint64_t mark = r->mark();
        if (final) {
            // The engine has stopped: nothing above the last number sent went out.
            s.seq_reserved = std::min(last, mark);
            continue;
        }
        const uint64_t limit = sequence_limit_of(*sa);
        const auto known = grants_.find(sa->id());
        Grant g = known != grants_.end() ? known->second
                                         : Grant{SequenceReservation::kMinBlock, last, now};
        s.seq_reserved = mark;
        if (SequenceReservation::due(last, mark, g.block, limit)) {
            const uint64_t block =
                SequenceReservation::block_for_rate(rate(g.seq, last, now - g.at_ns));
            s.seq_reserved = SequenceReservation::extended(last, mark, block, limit);
            g = Grant{block, last, now};
            raises.emplace_back(r, s.seq_reserved);
        }
        grants.emplace(sa->id(), g);
    }
    const StateBytes bytes = encode_state(saved);
    if (auto r = store_.write(bytes); !r) return r;
    for (const auto& [r, mark] : raises)
        r->extend_to(mark);
    if (!final) grants_ = std::move(grants);
    written_activity_ = activity;
    written_at_ = std::chrono::steady_clock::now();
    slack_ = 0;  // the marks moved: look again
    return {};
}

void StateKeeper::report(const Result<void>& r) {
    if (r) {
        if (!last_error_.empty()) env_.log("state file " + store_.path() + " written again");
        last_error_.clear();
        return;
    }
    if (r.error() != last_error_) env_.log(r.error());
    last_error_ = r.error();
}

}  // namespace ipsecfs::mountd
