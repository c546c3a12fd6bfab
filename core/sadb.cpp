#include "core/sadb.hpp"

#include <algorithm>
#include <set>

namespace ipsecfs {

// ---- snapshot queries ----------------------------------------------------------------------

const Sa* SadbSnapshot::find(const Said& said) const {
    auto it = by_said_.find(said);
    return it == by_said_.end() ? nullptr : it->second.get();
}

SaPtr SadbSnapshot::find_shared(const Said& said) const {
    auto it = by_said_.find(said);
    return it == by_said_.end() ? nullptr : it->second;
}

const SaGroup* SadbSnapshot::group_of(const Said& said) const {
    auto it = group_by_said_.find(said);
    return it == group_by_said_.end() ? nullptr : it->second.get();
}

const InboundPolicy* SadbSnapshot::policy_of(const Said& said) const {
    auto it = policies_.find(said);
    return it == policies_.end() ? nullptr : &it->second;
}

uint64_t SadbSnapshot::allocations(const Said& said) const {
    auto it = allocations_.find(said);
    return it == allocations_.end() ? 0 : it->second;
}

std::size_t SadbSnapshot::RouteKeyHash::operator()(const RouteKey& k) const noexcept {
    return IpAddressHash{}(k.src) * 31 ^ IpAddressHash {}(k.dst);
}

const Eroute* SadbSnapshot::route(const IpAddress& src, const IpAddress& dst) const {
    for (const auto& table : route_tables_) {
        if (src.bits() < table.src_bits || dst.bits() < table.dst_bits) continue;
        auto it =
            table.index.find(RouteKey{src.masked(table.src_bits), dst.masked(table.dst_bits)});
        if (it == table.index.end()) continue;
        const Eroute& e = eroutes_[it->second];
        if (e.src.addr.family() == src.family() && e.dst.addr.family() == dst.family()) return &e;
    }
    return nullptr;
}

// Rebuilds what derives from the group SAID lists and the eroutes. The SA maps are kept up to
// date by each change, so a batch of 100,000 adds stays linear.
void SadbSnapshot::reindex() {
    derived_dirty_ = false;
    groups_.clear();
    group_by_said_.clear();
    for (const auto& saids : group_saids_) {
        auto group = std::make_shared<SaGroup>();
        group->saids = saids;
        for (const auto& said : saids) {
            auto sa = find_shared(said);
            if (!sa) {
                group->members.clear();
                break;
            }
            group->members.push_back(std::move(sa));
        }
        SaGroupPtr shared = std::move(group);
        groups_.push_back(shared);
        for (const auto& said : saids)
            group_by_said_[said] = shared;
    }

    route_tables_.clear();
    allocations_.clear();
    for (std::size_t i = 0; i < eroutes_.size(); ++i) {
        const Eroute& e = eroutes_[i];
        ++allocations_[e.said];
        auto table =
            std::find_if(route_tables_.begin(), route_tables_.end(), [&](const MaskTable& t) {
                return t.dst_bits == e.dst.bits && t.src_bits == e.src.bits;
            });
        if (table == route_tables_.end()) {
            route_tables_.push_back(MaskTable{e.dst.bits, e.src.bits, {}});
            table = std::prev(route_tables_.end());
        }
        table->index[RouteKey{e.src.addr, e.dst.addr}] = i;
    }
    // Most specific destination first, then most specific source (KLIPS radix order).
    std::sort(
        route_tables_.begin(), route_tables_.end(), [](const MaskTable& a, const MaskTable& b) {
            return a.dst_bits != b.dst_bits ? a.dst_bits > b.dst_bits : a.src_bits > b.src_bits;
        });
}

// ---- the database --------------------------------------------------------------------------

Sadb::Sadb(Environment env) : env_(std::move(env)), current_(std::make_shared<SadbSnapshot>()) {}

SadbSnapshotPtr Sadb::snapshot() const {
    std::lock_guard lock(snapshot_mutex_);
    return current_;
}

Sadb::Transaction Sadb::begin() {
    return Transaction(*this, std::unique_lock(write_mutex_));
}

Result<void> Sadb::apply(const Command& command) {
    auto tx = begin();
    if (auto r = tx.apply(command); !r) return r;
    tx.commit();
    return {};
}

Sadb::Transaction::Transaction(Sadb& db, std::unique_lock<std::mutex> lock)
    : db_(db), lock_(std::move(lock)), pending_(std::make_shared<SadbSnapshot>(*db.snapshot())) {}

void Sadb::Transaction::commit() {
    if (committed_) return;
    committed_ = true;
    if (pending_->derived_dirty_) pending_->reindex();
    pending_->generation_ = db_.generation_.load(std::memory_order_relaxed) + 1;
    static std::atomic<uint64_t> last_serial{0};
    pending_->serial_ = last_serial.fetch_add(1, std::memory_order_relaxed) + 1;
    SadbSnapshotPtr before;
    {
        std::lock_guard lock(db_.snapshot_mutex_);
        before = db_.current_;
        db_.current_ = pending_;
    }
    db_.generation_.store(pending_->generation_, std::memory_order_release);
    lock_.unlock();
    if (db_.env_.on_commit) db_.env_.on_commit(*before, *pending_);
}

Result<void> Sadb::Transaction::apply(const Command& command) {
    // After commit pending_ is the published snapshot: readers share it, so it must not change.
    if (committed_) return fail("transaction already committed");
    return std::visit(
        [this](const auto& c) -> Result<void> {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, SpiAdd>) {
                return add_sa(c);
            } else if constexpr (std::is_same_v<T, SpiDel>) {
                return del_sa(c);
            } else if constexpr (std::is_same_v<T, SpiClear>) {
                pending_->ordered_.clear();
                pending_->by_said_.clear();
                pending_->group_saids_.clear();
                pending_->policies_.clear();
                pending_->derived_dirty_ = true;
                return {};
            } else if constexpr (std::is_same_v<T, ErouteAdd>) {
                return add_eroute(c);
            } else if constexpr (std::is_same_v<T, ErouteDel>) {
                return del_eroute(c);
            } else if constexpr (std::is_same_v<T, ErouteClear>) {
                pending_->eroutes_.clear();
                pending_->derived_dirty_ = true;
                return {};
            } else if constexpr (std::is_same_v<T, Spigrp>) {
                return group(c);
            } else {
                return fail("not a change to the SA database");
            }
        },
        command);
}

namespace {

Result<void> check_config(const SaConfig& c) {
    const Transform& t = c.xform;
    if (t.proto != c.said.proto) {
        return fail("SAID " + c.said.str() + " is a " + std::string(proto_name(c.said.proto)) +
                    " SA but the operation makes a " + std::string(proto_name(t.proto)) + " SA");
    }
    const auto expect_key = [](const KeyBytes& key, std::size_t want, std::string_view option,
                               std::string_view alg) -> Result<void> {
        if (key.size() == want) return {};
        if (want == 0) return fail(std::string(option) + " is not used by " + std::string(alg));
        return fail(std::string(option) + " for " + std::string(alg) + " must be " +
                    std::to_string(want) + " bytes (" + std::to_string(want * 8) + " bits), got " +
                    std::to_string(key.size()) + " bytes");
    };
    const std::string alg = transform_option_name(t);
    if (t.proto == SaProto::esp || t.proto == SaProto::ah) {
        if (auto r = expect_key(c.enc_key, enc_key_bytes(t), "--enckey", alg); !r) return r;
        if (auto r = expect_key(c.auth_key, auth_key_bytes(t), "--authkey", alg); !r) return r;
    } else if (!c.enc_key.empty() || !c.auth_key.empty()) {
        return fail(std::string(proto_name(t.proto)) + " SAs take no keys");
    }
    if (c.replay_window > kMaxReplayWindow) {
        return fail("--replay_window must be 0.." + std::to_string(kMaxReplayWindow));
    }
    if (!c.esn && c.initial_seq > 0xffffffffull) {
        return fail("--seq above 2^32-1 needs --esn");
    }
    return {};
}

}  // namespace

Result<void> Sadb::Transaction::add_sa(const SpiAdd& c) {
    const Said& said = c.config.said;
    const bool exists = pending_->ordered_.count(said) != 0;
    if (exists && !c.replace) return fail("SA " + said.str() + " already exists (use --replace)");
    if (auto r = check_config(c.config); !r) return r;

    SaConfig config = c.config;
    config.dir = db_.env_.is_local(said.dst) ? Direction::in : Direction::out;
    if (said.proto == SaProto::esp || said.proto == SaProto::ah) {
        if (config.dir == Direction::out) {
            config.replay_window = 0;
        } else if (config.replay_window == 0) {
            config.replay_window = db_.env_.default_replay_window;
        }
    } else {
        config.replay_window = 0;
    }
    if (c.policy) {
        if (said.proto != SaProto::tun) return fail("--policy applies to tun SAs only");
        if (config.dir != Direction::in) return fail("--policy applies to inbound SAs only");
    }
    auto sa = std::make_shared<Sa>(db_.next_sa_id_, std::move(config), db_.env_.now_ns());
    if (db_.env_.make_runtime) {
        auto runtime = db_.env_.make_runtime(*sa);
        if (!runtime) return fail("SA " + said.str() + ": " + runtime.error());
        sa->set_runtime(std::move(*runtime));
    }
    ++db_.next_sa_id_;
    pending_->by_said_[said] = sa;
    pending_->ordered_[said] = std::move(sa);
    // A replaced SA is a new SA: it keeps no inbound policy of the one it replaces (which may
    // have been set by eroute --addin) unless it is given one.
    if (c.policy) {
        pending_->policies_[said] = *c.policy;
    } else {
        pending_->policies_.erase(said);
    }
    pending_->derived_dirty_ = true;
    return {};
}

Result<void> Sadb::Transaction::del_sa(const SpiDel& c) {
    if (pending_->ordered_.erase(c.said) == 0)
        return fail("SA " + c.said.str() + " does not exist");
    pending_->by_said_.erase(c.said);
    pending_->policies_.erase(c.said);
    pending_->derived_dirty_ = true;
    return {};
}

std::vector<SaPtr> Sadb::Transaction::take_down(const Said& said, uint64_t sa_id) {
    std::vector<SaPtr> removed;
    auto it = pending_->ordered_.find(said);
    if (it == pending_->ordered_.end() || it->second->id() != sa_id) return removed;
    if (pending_->derived_dirty_) pending_->reindex();
    std::vector<Said> saids = {said};
    if (const SaGroup* g = pending_->group_of(said)) {
        for (const Said& s : g->saids) {
            if (s != said) saids.push_back(s);
        }
    }
    auto& groups = pending_->group_saids_;
    groups.erase(std::remove_if(groups.begin(), groups.end(),
                                [&](const std::vector<Said>& g) {
                                    return std::find(g.begin(), g.end(), said) != g.end();
                                }),
                 groups.end());
    for (const Said& s : saids) {
        auto found = pending_->ordered_.find(s);
        if (found == pending_->ordered_.end()) continue;
        removed.push_back(found->second);
        pending_->ordered_.erase(found);
        pending_->by_said_.erase(s);
        pending_->policies_.erase(s);
    }
    pending_->derived_dirty_ = true;
    return removed;
}

Result<void> Sadb::Transaction::add_eroute(const ErouteAdd& c) {
    const Sa* sa = pending_->find(c.said);
    if (!sa) return fail("SA " + c.said.str() + " does not exist");
    if (c.src.addr.family() != c.dst.addr.family()) {
        return fail("eroute --src and --dst must be of the same address family");
    }
    if (c.inbound) {
        if (pending_->derived_dirty_) pending_->reindex();
        // --addin: the policy belongs to the group's tunnel SA (KLIPS SADB_X_SAFLAGS_INFLOW).
        const Sa* tun = sa->said().proto == SaProto::tun ? sa : nullptr;
        if (const SaGroup* g = pending_->group_of(c.said); !tun && g) {
            for (const auto& m : g->members) {
                if (m->said().proto == SaProto::tun) tun = m.get();
            }
        }
        if (!tun)
            return fail("eroute --addin needs a tun SA (or a group holding one): " + c.said.str());
        if (tun->config().dir != Direction::in) {
            return fail("eroute --addin needs an inbound SA: " + tun->said().str() +
                        " is outbound");
        }
        if (pending_->policies_.count(tun->said()) && !c.replace) {
            return fail("SA " + tun->said().str() +
                        " already has an inbound policy (use --replacein)");
        }
        pending_->policies_[tun->said()] = InboundPolicy{c.src, c.dst};
        return {};
    }
    auto& routes = pending_->eroutes_;
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const Eroute& e) { return e.src == c.src && e.dst == c.dst; });
    const bool allocates = it == routes.end() || it->said != c.said;
    if (const uint64_t hard = sa->config().life[static_cast<std::size_t>(LifeKind::alloc)].hard;
        hard && allocates) {
        if (pending_->derived_dirty_) pending_->reindex();
        if (pending_->allocations(c.said) >= hard) {
            return fail("SA " + c.said.str() + " reached its hard allocation limit (" +
                        std::to_string(hard) + " eroutes)");
        }
    }
    if (it != routes.end()) {
        if (!c.replace) {
            return fail("eroute " + c.src.str() + " -> " + c.dst.str() +
                        " already exists (use --replace)");
        }
        it->said = c.said;
    } else {
        routes.push_back(Eroute{c.src, c.dst, c.said, std::make_shared<Counter>()});
    }
    pending_->derived_dirty_ = true;
    return {};
}

Result<void> Sadb::Transaction::del_eroute(const ErouteDel& c) {
    auto& routes = pending_->eroutes_;
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const Eroute& e) { return e.src == c.src && e.dst == c.dst; });
    if (it == routes.end()) {
        return fail("eroute " + c.src.str() + " -> " + c.dst.str() + " does not exist");
    }
    routes.erase(it);
    pending_->derived_dirty_ = true;
    return {};
}

Result<void> Sadb::Transaction::group(const Spigrp& c) {
    if (c.saids.empty() || c.saids.size() > SaGroup::kMaxSize) {
        return fail("spigrp takes 1 to " + std::to_string(SaGroup::kMaxSize) + " SAs, got " +
                    std::to_string(c.saids.size()));
    }
    std::set<Said> seen;
    for (const auto& said : c.saids) {
        if (!pending_->find(said)) return fail("SA " + said.str() + " does not exist");
        if (!seen.insert(said).second)
            return fail("SA " + said.str() + " appears twice in the group");
    }
    const Direction dir = pending_->find(c.saids.front())->config().dir;
    for (const auto& said : c.saids) {
        if (pending_->find(said)->config().dir != dir) {
            return fail("spigrp: SAs of a group must all be inbound or all outbound");
        }
    }
    // An SA belongs to one group: regrouping dissolves the groups it was in.
    auto& groups = pending_->group_saids_;
    groups.erase(std::remove_if(groups.begin(), groups.end(),
                                [&](const std::vector<Said>& g) {
                                    return std::any_of(g.begin(), g.end(), [&](const Said& s) {
                                        return seen.count(s);
                                    });
                                }),
                 groups.end());
    if (c.saids.size() > 1) groups.push_back(c.saids);
    pending_->derived_dirty_ = true;
    return {};
}

Result<void> Sadb::Transaction::restore(const SavedSadb& saved) {
    if (committed_) return fail("transaction already committed");
    if (!pending_->ordered_.empty() || !pending_->eroutes_.empty())
        return fail("the SA database is not empty");
    for (const SavedSa& s : saved.sas) {
        const Said& said = s.config.said;
        const auto why = [&](const std::string& what) {
            return fail("SA " + said.str() + ": " + what);
        };
        if (pending_->ordered_.count(said)) return why("appears twice");
        if (auto r = check_config(s.config); !r) return why(r.error());
        const bool replay = said.proto == SaProto::esp || said.proto == SaProto::ah;
        if (replay && s.config.dir == Direction::in && s.config.replay_window == 0)
            return why("inbound without a replay window");
        auto sa = std::make_shared<Sa>(db_.next_sa_id_, restart_config(s), s.added_ns);
        load_counters(s.counters, sa->counters());
        if (db_.env_.make_runtime) {
            auto runtime = db_.env_.make_runtime(*sa);
            if (!runtime) return why(runtime.error());
            sa->set_runtime(std::move(*runtime));
        }
        ++db_.next_sa_id_;
        pending_->by_said_[said] = sa;
        pending_->ordered_[said] = std::move(sa);
    }
    std::set<Said> grouped;
    for (const auto& g : saved.groups) {
        if (g.size() < 2 || g.size() > SaGroup::kMaxSize)
            return fail("a group of " + std::to_string(g.size()) + " SAs");
        for (const Said& said : g) {
            if (!grouped.insert(said).second) return fail("SA " + said.str() + " is in two groups");
        }
        pending_->group_saids_.push_back(g);
    }
    for (const SavedEroute& e : saved.eroutes) {
        const auto same = [&](const Eroute& x) { return x.src == e.src && x.dst == e.dst; };
        if (e.src.addr.family() != e.dst.addr.family() ||
            std::any_of(pending_->eroutes_.begin(), pending_->eroutes_.end(), same))
            return fail("eroute " + e.src.str() + " -> " + e.dst.str() + " is not valid here");
        pending_->eroutes_.push_back(Eroute{e.src, e.dst, e.said, std::make_shared<Counter>()});
        pending_->eroutes_.back().packets->set(e.packets);
    }
    for (const SavedPolicy& p : saved.policies) {
        const Sa* sa = pending_->find(p.said);
        if (!sa || sa->said().proto != SaProto::tun || sa->config().dir != Direction::in)
            return fail("inbound policy of " + p.said.str() + ": no inbound tun SA");
        if (!pending_->policies_.emplace(p.said, p.policy).second)
            return fail("inbound policy of " + p.said.str() + " appears twice");
    }
    pending_->derived_dirty_ = true;
    return {};
}

}  // namespace ipsecfs
