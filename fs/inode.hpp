#pragma once
// Inode numbers: a pure function of what a node is, so they are stable without any table.
//
//   1                 the root (FUSE_ROOT_ID)
//   2 .. 9            ipsec_spi, ipsec_eroute, ipsec_spigrp, ipsec_tncfg, ipsec_version, stats,
//                     metrics, ipsec_spi.json
//   10                spi/
//   (id << 6) | slot  an SA's nodes, id = Sa::id() >= 1: slot 0 its directory, slot 1 its
//                     life/ directory, slot 2 + field its field files
//
// Sa::id() is never reused, so a deleted or replaced SA's inodes never come back.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/render.hpp"

namespace ipsecfs::fs {

using Ino = uint64_t;

enum class RootFile : uint8_t {
    ipsec_spi,
    ipsec_eroute,
    ipsec_spigrp,
    ipsec_tncfg,
    ipsec_version,
    stats,
    metrics,
    ipsec_spi_json,
    count_
};
inline constexpr std::size_t kRootFileCount = static_cast<std::size_t>(RootFile::count_);

enum class NodeKind : uint8_t { root, root_file, spi_dir, sa_dir, life_dir, sa_file };

struct Node {
    NodeKind kind = NodeKind::root;
    RootFile root_file = RootFile::ipsec_spi;  // root_file only
    uint64_t sa_id = 0;                        // sa_dir, life_dir, sa_file
    SaField field = SaField::said;             // sa_file only

    static constexpr Node root() { return {}; }
    static constexpr Node spi_dir() { return {.kind = NodeKind::spi_dir}; }
    static constexpr Node of(RootFile f) { return {.kind = NodeKind::root_file, .root_file = f}; }
    static constexpr Node sa_dir(uint64_t id) { return {.kind = NodeKind::sa_dir, .sa_id = id}; }
    static constexpr Node life_dir(uint64_t id) {
        return {.kind = NodeKind::life_dir, .sa_id = id};
    }
    static constexpr Node sa_file(uint64_t id, SaField f) {
        return {.kind = NodeKind::sa_file, .sa_id = id, .field = f};
    }

    constexpr bool is_dir() const {
        return kind != NodeKind::root_file && kind != NodeKind::sa_file;
    }
    constexpr bool belongs_to_sa() const { return sa_id != 0; }

    friend constexpr bool operator==(const Node&, const Node&) = default;
};

inline constexpr Ino kRootIno = 1;
inline constexpr Ino kFirstRootFileIno = 2;
inline constexpr Ino kSpiDirIno = kFirstRootFileIno + kRootFileCount;

inline constexpr unsigned kSlotBits = 6;
inline constexpr Ino kSlotMask = (Ino{1} << kSlotBits) - 1;
inline constexpr Ino kSaDirSlot = 0;
inline constexpr Ino kLifeDirSlot = 1;
inline constexpr Ino kFirstFieldSlot = 2;
inline constexpr uint64_t kMaxSaId = (uint64_t{1} << (64 - kSlotBits)) - 1;

static_assert(kFirstFieldSlot + kSaFieldCount <= kSlotMask + 1, "SA fields must fit the slot bits");
static_assert(kSpiDirIno < (Ino{1} << kSlotBits), "fixed inodes must stay below SA id 1");

// 0 (never a valid inode) for an SA id beyond kMaxSaId.
constexpr Ino encode(const Node& n) {
    const auto sa_ino = [&](Ino slot) {
        return n.sa_id > kMaxSaId ? 0 : (n.sa_id << kSlotBits) | slot;
    };
    switch (n.kind) {
        case NodeKind::root:
            return kRootIno;
        case NodeKind::root_file:
            return kFirstRootFileIno + static_cast<Ino>(n.root_file);
        case NodeKind::spi_dir:
            return kSpiDirIno;
        case NodeKind::sa_dir:
            return sa_ino(kSaDirSlot);
        case NodeKind::life_dir:
            return sa_ino(kLifeDirSlot);
        case NodeKind::sa_file:
            return sa_ino(kFirstFieldSlot + static_cast<Ino>(n.field));
    }
    return 0;
}

constexpr std::optional<Node> decode(Ino ino) {
    if (ino == kRootIno) return Node::root();
    if (ino == kSpiDirIno) return Node::spi_dir();
    if (ino >= kFirstRootFileIno && ino < kSpiDirIno) {
        return Node::of(static_cast<RootFile>(ino - kFirstRootFileIno));
    }
    const uint64_t id = ino >> kSlotBits;
    const Ino slot = ino & kSlotMask;
    if (id == 0) return std::nullopt;
    if (slot == kSaDirSlot) return Node::sa_dir(id);
    if (slot == kLifeDirSlot) return Node::life_dir(id);
    if (slot - kFirstFieldSlot < kSaFieldCount) {
        return Node::sa_file(id, static_cast<SaField>(slot - kFirstFieldSlot));
    }
    return std::nullopt;
}

}  // namespace ipsecfs::fs
