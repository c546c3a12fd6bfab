#include "fs/tree.hpp"

namespace ipsecfs::fs {
namespace {

constexpr std::string_view kLifePrefix = "life/";

std::optional<SaField> find_field(std::string_view name, bool life) {
    for (std::size_t i = 0; i < kSaFieldCount; ++i) {
        const auto f = static_cast<SaField>(i);
        if (in_life_dir(f) == life && leaf_name(f) == name) return f;
    }
    return std::nullopt;
}

void add_sa_fields(DirListing& out, uint64_t sa_id, bool life) {
    for (std::size_t i = 0; i < kSaFieldCount; ++i) {
        const auto f = static_cast<SaField>(i);
        if (in_life_dir(f) == life) out.add(leaf_name(f), encode(Node::sa_file(sa_id, f)), false);
    }
}

}  // namespace

bool in_life_dir(SaField f) {
    return sa_field_name(f).starts_with(kLifePrefix);
}

std::string_view leaf_name(SaField f) {
    const std::string_view name = sa_field_name(f);
    return in_life_dir(f) ? name.substr(kLifePrefix.size()) : name;
}

std::optional<Node> lookup_child(const Node& dir, std::string_view name, const SadbSnapshot& snap) {
    switch (dir.kind) {
        case NodeKind::root:
            if (name == kSpiDirName) return Node::spi_dir();
            for (std::size_t i = 0; i < kRootFileCount; ++i) {
                if (kRootFileNames[i] == name) return Node::of(static_cast<RootFile>(i));
            }
            return std::nullopt;
        case NodeKind::spi_dir: {
            auto said = Said::parse(name);
            if (!said || said->str() != name) return std::nullopt;
            const Sa* sa = snap.find(*said);
            if (!sa) return std::nullopt;
            return Node::sa_dir(sa->id());
        }
        case NodeKind::sa_dir: {
            if (name == kLifeDirName) return Node::life_dir(dir.sa_id);
            auto f = find_field(name, false);
            if (!f) return std::nullopt;
            return Node::sa_file(dir.sa_id, *f);
        }
        case NodeKind::life_dir: {
            auto f = find_field(name, true);
            if (!f) return std::nullopt;
            return Node::sa_file(dir.sa_id, *f);
        }
        case NodeKind::root_file:
        case NodeKind::sa_file:
            return std::nullopt;
    }
    return std::nullopt;
}

Node parent_of(const Node& node) {
    switch (node.kind) {
        case NodeKind::sa_dir:
            return Node::spi_dir();
        case NodeKind::life_dir:
            return Node::sa_dir(node.sa_id);
        case NodeKind::sa_file:
            return in_life_dir(node.field) ? Node::life_dir(node.sa_id) : Node::sa_dir(node.sa_id);
        default:
            return Node::root();
    }
}

DirListing list_directory(const Node& dir, const SadbSnapshot& snap) {
    DirListing out;
    const bool spi = dir.kind == NodeKind::spi_dir;
    if (spi) out.reserve(snap.size() + 2, (snap.size() + 2) * 32);
    out.add(".", encode(dir), true);
    out.add("..", encode(parent_of(dir)), true);
    switch (dir.kind) {
        case NodeKind::root:
            for (std::size_t i = 0; i < kRootFileCount; ++i) {
                out.add(kRootFileNames[i], encode(Node::of(static_cast<RootFile>(i))), false);
            }
            out.add(kSpiDirName, encode(Node::spi_dir()), true);
            break;
        case NodeKind::spi_dir:
            for (const auto& [said, sa] : snap.sas()) {
                out.add(said.str(), encode(Node::sa_dir(sa->id())), true);
            }
            break;
        case NodeKind::sa_dir:
            add_sa_fields(out, dir.sa_id, false);
            out.add(kLifeDirName, encode(Node::life_dir(dir.sa_id)), true);
            break;
        case NodeKind::life_dir:
            add_sa_fields(out, dir.sa_id, true);
            break;
        case NodeKind::root_file:
        case NodeKind::sa_file:
            break;
    }
    return out;
}

}  // namespace ipsecfs::fs
