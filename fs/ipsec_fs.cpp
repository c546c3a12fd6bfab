// The read-only FUSE filesystem at /run/ipsec: a libfuse3 low-level server laid out like
// libfuse's example/passthrough_ll.c (helpers, init, lookup/getattr, directories, files, the
// read-only refusals, the operation table, then mount and the loop).
//
// No state is kept per inode: an inode number says what a node is (inode.hpp), every request
// resolves it against the SADB's current View, and an SA's nodes answer ENOENT once its id has
// left the SADB. Opens render a whole file or directory listing into fi->fh; reads and readdirs
// serve slices of it. A read from offset 0 starts a new pass, rendered afresh (open_file.hpp).
//
// poll: ipsec_spi, ipsec_eroute and ipsec_spigrp wait until a commit changes what they list
// (watched_files.hpp) since the snapshot the open last rendered, then report POLLIN|POLLPRI until
// the reader reopens or reads from offset 0 again. Each open keeps at most one fuse_pollhandle;
// on_commit wakes those of the files that changed (change_watch.hpp). Other files are always
// readable.
//
// Caching: names under spi/ are never cached (entry timeout 0), so the kernel asks again on
// every path walk: a deleted SA's directory is gone at once, and a replaced SA (same SAID, new
// id) resolves to its new inodes. Everything else has a fixed shape and is cached. Caching spi/
// names too and invalidating them from on_commit would save one lookup round trip per path walk
// (measured: 15-20 us of a 70 us hot field read), but a notification blocks while a lookup in
// spi/ is pending, and at shutdown nobody answers that lookup any more: not worth the deadlock.
// spi/'s own attributes are cached, though: an inode notification takes no directory lock.
//
// Reads: at most kMaxRead bytes a request. While packets flow, requests are taken from the kernel
// no faster than the RequestBudget allows (--fs-busy-rate): readers wait, the packets do not.

#include "fs/ipsec_fs.hpp"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/stat.h>

#include <sys/uio.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <optional>
#include <vector>

#include "fs/attributes.hpp"
#include "fs/change_watch.hpp"
#include "fs/dir_listing.hpp"
#include "fs/file_content.hpp"
#include "fs/fuse_ptr.hpp"
#include "fs/handle_table.hpp"
#include "fs/inode.hpp"
#include "fs/open_file.hpp"
#include "fs/request_budget.hpp"
#include "fs/tree.hpp"
#include "fs/view.hpp"
#include "fs/wakeable_io.hpp"
#include "fs/watched_files.hpp"

namespace ipsecfs::fs {
namespace {

static_assert(sizeof(fuse_ino_t) == sizeof(Ino));
static_assert(kRootIno == FUSE_ROOT_ID);

constexpr double kFixedTimeout = 3600.0;  // the root's entries never change
constexpr double kSaTimeout = 1.0;        // nor do an SA instance's names and attributes
constexpr double kNeverCache = 0.0;

// The largest read the kernel asks of us. A direct_io read pins the reader's whole buffer, up to
// this size, before asking: `cat` reads into a fresh 128 KiB buffer for every file, so with the
// default (128 KiB) each field read faulted in and charged 32 pages for a few bytes. With 8 KiB,
// 4 `cat` loops over all 143 files of a tunnel's mount spent 38 % less CPU per pass (13.8 against
// 21.7-24.5 ms), and `cat ipsec_spi` of 100,000 SAs (10.8 MB) took no longer (0.06 s).
constexpr unsigned kMaxRead = 8192;

struct PollHandleDeleter {
    void operator()(fuse_pollhandle* ph) const { fuse_pollhandle_destroy(ph); }
};
using PollHandlePtr = std::unique_ptr<fuse_pollhandle, PollHandleDeleter>;

// The session's userdata: everything a request handler may use.
struct Filesystem {
    const Sadb& sadb;
    const DataplaneStatus& status;
    std::function<int64_t()> now_ns;
    Permissions perms;
    int64_t mounted_ns;
    ViewCache views;
    WakeableIo io;
    RequestBudget budget;
    HandleTable<OpenFile> files;
    HandleTable<DirListing> dirs;
    ChangeWatch<PollHandlePtr> watch;
};

Filesystem& fs_of(fuse_req_t req) {
    return *static_cast<Filesystem*>(fuse_req_userdata(req));
}

// A node that exists in a view, with its SA when it belongs to one.
struct Resolved {
    Node node;
    const Sa* sa = nullptr;
};

std::optional<Resolved> resolve(const View& view, const Node& node) {
    if (!node.belongs_to_sa()) return Resolved{node};
    const Sa* sa = view.find(node.sa_id);
    if (!sa) return std::nullopt;
    return Resolved{node, sa};
}

std::optional<Resolved> resolve(const View& view, fuse_ino_t ino) {
    const auto node = decode(ino);
    if (!node) return std::nullopt;
    return resolve(view, *node);
}

struct stat attr_of(const Filesystem& fs, const View& view, const Resolved& r) {
    const int64_t time_ns = r.sa ? r.sa->added_ns() : fs.mounted_ns;
    return node_attr(r.node, fs.perms, view.snapshot().size(), time_ns);
}

double entry_timeout(const Node& n) {
    if (n.kind == NodeKind::sa_dir) return kNeverCache;
    return n.belongs_to_sa() ? kSaTimeout : kFixedTimeout;
}

double attr_timeout(const Node& n) {
    // spi/'s link count follows the SA count: on_commit drops the cached one when that changes.
    // Cached at all, because every path walk through spi/ checks its permissions
    // (default_permissions): a getattr per file read otherwise.
    if (n.kind == NodeKind::spi_dir) return kSaTimeout;
    return n.belongs_to_sa() ? kSaTimeout : kFixedTimeout;
}

bool opens_for_writing(int flags) {
    return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

// --- init ----------------------------------------------------------------------------------------

void ll_init(void*, fuse_conn_info* conn) {
    // Requests must arrive through WakeableIo::read, which a spliced read would bypass.
    conn->want &= ~FUSE_CAP_SPLICE_READ;
    conn->max_read = kMaxRead;  // must equal the mount option
}

// --- lookup and attributes -----------------------------------------------------------------------

void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Filesystem& fs = fs_of(req);
    const ViewPtr view = fs.views.current();
    const auto dir = resolve(*view, parent);
    if (!dir) return (void)fuse_reply_err(req, ENOENT);
    if (!dir->node.is_dir()) return (void)fuse_reply_err(req, ENOTDIR);
    const auto child_node = lookup_child(dir->node, name, view->snapshot());
    const auto child = child_node ? resolve(*view, *child_node) : std::nullopt;
    if (!child) return (void)fuse_reply_err(req, ENOENT);

    fuse_entry_param e{};
    e.ino = encode(child->node);
    e.attr = attr_of(fs, *view, *child);
    e.attr_timeout = attr_timeout(child->node);
    e.entry_timeout = entry_timeout(child->node);
    fuse_reply_entry(req, &e);
}

void ll_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    Filesystem& fs = fs_of(req);
    const ViewPtr view = fs.views.current();
    const auto r = resolve(*view, ino);
    if (!r) return (void)fuse_reply_err(req, ENOENT);
    const struct stat st = attr_of(fs, *view, *r);
    fuse_reply_attr(req, &st, attr_timeout(r->node));
}

// --- directories ---------------------------------------------------------------------------------

void ll_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Filesystem& fs = fs_of(req);
    const ViewPtr view = fs.views.current();
    const auto r = resolve(*view, ino);
    if (!r) return (void)fuse_reply_err(req, ENOENT);
    if (!r->node.is_dir()) return (void)fuse_reply_err(req, ENOTDIR);

    fi->fh = fs.dirs.add(std::make_unique<DirListing>(list_directory(r->node, view->snapshot())));
    // An interrupted opendir never gets a releasedir.
    if (fuse_reply_open(req, fi) != 0) fs.dirs.remove(fi->fh);
}

void ll_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    const DirListing& listing = HandleTable<DirListing>::get(fi->fh);
    std::vector<char> buf(size);
    const std::size_t used = listing.fill(buf.data(), size, static_cast<std::size_t>(off));
    fuse_reply_buf(req, buf.data(), used);
}

void ll_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    fs_of(req).dirs.remove(fi->fh);
    fuse_reply_err(req, 0);
}

// --- files ---------------------------------------------------------------------------------------

void ll_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Filesystem& fs = fs_of(req);
    const ViewPtr view = fs.views.current();
    const auto r = resolve(*view, ino);
    if (!r) return (void)fuse_reply_err(req, ENOENT);
    if (r->node.is_dir()) return (void)fuse_reply_err(req, EISDIR);
    if (opens_for_writing(fi->flags)) return (void)fuse_reply_err(req, EROFS);

    auto text = render_file(r->node, r->sa, view->snapshot(), fs.status, fs.now_ns());
    fi->fh = fs.files.add(std::make_unique<OpenFile>(r->node, std::move(text), view->generation()));
    fi->direct_io = 1;  // every open renders afresh; size 0 must not cut reads short
    fi->noflush = 1;
    // An interrupted open never gets a release.
    if (fuse_reply_open(req, fi) != 0) fs.files.remove(fi->fh);
}

// A new pass over an open file. A file of an SA that has gone keeps its last text.
void render_again(Filesystem& fs, OpenFile& file) {
    const ViewPtr view = fs.views.current();
    const auto r = resolve(*view, file.node());
    if (!r) return;
    file.renew(render_file(r->node, r->sa, view->snapshot(), fs.status, fs.now_ns()),
               view->generation());
}

void ll_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
    if (off < 0) return (void)fuse_reply_err(req, EINVAL);
    Filesystem& fs = fs_of(req);
    OpenFile& file = HandleTable<OpenFile>::get(fi->fh);
    // The first pass may use what the open rendered, unless the SADB changed since.
    if (off == 0 && (file.read_before() || file.generation() != fs.sadb.generation()))
        render_again(fs, file);
    const auto text = file.text();
    const std::string_view slice = text->slice(static_cast<uint64_t>(off), size);
    fuse_reply_buf(req, slice.data(), slice.size());
}

void ll_poll(fuse_req_t req, fuse_ino_t, fuse_file_info* fi, fuse_pollhandle* ph) {
    PollHandlePtr waiter(ph);
    const OpenFile& file = HandleTable<OpenFile>::get(fi->fh);
    const Node& node = file.node();
    constexpr unsigned kReadable = POLLIN | POLLRDNORM;
    if (node.kind != NodeKind::root_file || !is_watched(node.root_file))
        return (void)fuse_reply_poll(req, kReadable);
    const bool changed = fs_of(req).watch.changed_since(node.root_file, file.generation(), fi->fh,
                                                        std::move(waiter));
    fuse_reply_poll(req, changed ? kReadable | POLLPRI : 0);
}

void ll_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    Filesystem& fs = fs_of(req);
    fs.watch.forget(fi->fh);
    fs.files.remove(fi->fh);
    fuse_reply_err(req, 0);
}

// --- everything that would change something ------------------------------------------------------

void refuse(fuse_req_t req) {
    fuse_reply_err(req, EROFS);
}

void ll_setattr(fuse_req_t req, fuse_ino_t, struct stat*, int, fuse_file_info*) {
    refuse(req);
}
void ll_mknod(fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    refuse(req);
}
void ll_mkdir(fuse_req_t req, fuse_ino_t, const char*, mode_t) {
    refuse(req);
}
void ll_unlink(fuse_req_t req, fuse_ino_t, const char*) {
    refuse(req);
}
void ll_rmdir(fuse_req_t req, fuse_ino_t, const char*) {
    refuse(req);
}
void ll_symlink(fuse_req_t req, const char*, fuse_ino_t, const char*) {
    refuse(req);
}
void ll_rename(fuse_req_t req, fuse_ino_t, const char*, fuse_ino_t, const char*, unsigned) {
    refuse(req);
}
void ll_link(fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    refuse(req);
}
void ll_write(fuse_req_t req, fuse_ino_t, const char*, size_t, off_t, fuse_file_info*) {
    refuse(req);
}
void ll_setxattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
    refuse(req);
}
void ll_removexattr(fuse_req_t req, fuse_ino_t, const char*) {
    refuse(req);
}
void ll_create(fuse_req_t req, fuse_ino_t, const char*, mode_t, fuse_file_info*) {
    refuse(req);
}
void ll_fallocate(fuse_req_t req, fuse_ino_t, int, off_t, off_t, fuse_file_info*) {
    refuse(req);
}

// --- the operation table -------------------------------------------------------------------------

fuse_lowlevel_ops make_ops() {
    fuse_lowlevel_ops ops{};
    ops.init = ll_init;
    ops.lookup = ll_lookup;
    ops.getattr = ll_getattr;
    ops.opendir = ll_opendir;
    ops.readdir = ll_readdir;
    ops.releasedir = ll_releasedir;
    ops.open = ll_open;
    ops.read = ll_read;
    ops.release = ll_release;
    ops.poll = ll_poll;
    ops.setattr = ll_setattr;
    ops.mknod = ll_mknod;
    ops.mkdir = ll_mkdir;
    ops.unlink = ll_unlink;
    ops.rmdir = ll_rmdir;
    ops.symlink = ll_symlink;
    ops.rename = ll_rename;
    ops.link = ll_link;
    ops.write = ll_write;
    ops.setxattr = ll_setxattr;
    ops.removexattr = ll_removexattr;
    ops.create = ll_create;
    ops.fallocate = ll_fallocate;
    return ops;
}

const fuse_lowlevel_ops kOps = make_ops();

int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

uint64_t packets_carried(const DataplaneStatus& status) {
    return status.tun_read_frames.get() + status.tun_write_frames.get() + status.esp_in.get() +
           status.esp_out.get();
}

// Trampolines for fuse_custom_io: libfuse hands them the session's userdata. io_read takes the
// next request once the budget allows; the request waits in the kernel meanwhile.
ssize_t io_read(int fd, void* buf, size_t len, void* userdata) {
    auto& fs = *static_cast<Filesystem*>(userdata);
    for (int64_t wait; (wait = fs.budget.wait_ns(monotonic_ns(), packets_carried(fs.status))) > 0;)
        if (!fs.io.sleep(wait)) return -1;
    return fs.io.read(fd, buf, len);
}

ssize_t io_writev(int fd, struct iovec* iov, int count, void*) {
    return ::writev(fd, iov, count);
}

// --- mount and the loop --------------------------------------------------------------------------

class MountedFs final : public IpsecFs {
  public:
    MountedFs(std::unique_ptr<Filesystem> fs, unsigned threads)
        : fs_(std::move(fs)), threads_(threads == 0 ? 1 : threads) {}
    ~MountedFs() override { unmount(); }

    Result<void> start(const std::string& mountpoint, bool debug) {
        std::vector<std::string> words = {
            "ipsecfs", "-o",
            "ro,fsname=ipsecfs,subtype=ipsec,default_permissions,allow_other,max_read=" +
                std::to_string(kMaxRead)};
        if (debug) words.emplace_back("-d");
        std::vector<char*> argv;
        for (auto& w : words)
            argv.push_back(w.data());
        fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
        session_.reset(fuse_session_new(&args, &kOps, sizeof(kOps), fs_.get()));
        fuse_opt_free_args(&args);
        if (!session_) return fail("cannot create the FUSE session");

        if (fuse_session_mount(session_.get(), mountpoint.c_str()) != 0) {
            return fail("cannot mount FUSE at " + mountpoint);
        }
        mounted_ = true;

        const int fd = fuse_session_fd(session_.get());
        const int flags = ::fcntl(fd, F_GETFL);
        const fuse_custom_io io{.writev = io_writev,
                                .read = io_read,
                                .splice_receive = nullptr,
                                .splice_send = nullptr};
        if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fuse_session_custom_io(session_.get(), &io, fd) != 0) {
            return fail("cannot set up FUSE request reading on " + mountpoint);
        }
        return {};
    }

    int run() override {
        LoopConfigPtr config(fuse_loop_cfg_create());
        if (!config) return -ENOMEM;
        fuse_loop_cfg_set_clone_fd(config.get(), 0);
        fuse_loop_cfg_set_max_threads(config.get(), threads_);
        fuse_loop_cfg_set_idle_threads(config.get(), threads_);
        const int rc = fuse_session_loop_mt(session_.get(), config.get());
        // Nobody answers requests any more: unmount now rather than leave a mount that hangs.
        unmount();
        return rc;
    }

    void exit() override {
        fuse_session_exit(session_.get());
        fs_->io.wake();
    }

    // Names under spi/ are never cached (see the top of this file); spi/'s attributes are, and
    // its link count changes with the SA count. Wakes the pollers of the files whose list
    // changed.
    void on_commit(const SadbSnapshot& before, const SadbSnapshot& after) override {
        if (before.size() != after.size()) {
            // Unlike an entry notification this takes no directory lock, so it never waits for
            // a lookup. -ENOENT: the kernel has not cached spi/ yet.
            std::lock_guard lock(unmount_mutex_);
            if (mounted_) fuse_lowlevel_notify_inval_inode(session_.get(), kSpiDirIno, -1, 0);
        }
        for (PollHandlePtr& waiter :
             fs_->watch.commit(changed_files(before, after), after.generation()))
            fuse_lowlevel_notify_poll(waiter.get());
    }

  private:
    void unmount() {
        std::lock_guard lock(unmount_mutex_);
        if (!mounted_) return;
        fuse_session_unmount(session_.get());
        mounted_ = false;
    }

    std::unique_ptr<Filesystem> fs_;  // the session's userdata: outlives session_
    SessionPtr session_;
    unsigned threads_;
    std::mutex unmount_mutex_;  // guards mounted_
    bool mounted_ = false;
};

}  // namespace

Result<std::unique_ptr<IpsecFs>> IpsecFs::mount(const MountOptions& options, const Sadb& sadb,
                                                const DataplaneStatus& status,
                                                std::function<int64_t()> now_ns) {
    char resolved[PATH_MAX];
    if (!::realpath(options.mountpoint.c_str(), resolved)) {
        return fail("mount point " + options.mountpoint + " does not exist");
    }
    struct stat st {};
    if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail("mount point " + options.mountpoint + " is not a directory");
    }
    auto io = WakeableIo::create();
    if (!io) return std::move(io).take_error();

    const int64_t mounted_ns = now_ns();
    auto fs = std::unique_ptr<Filesystem>(new Filesystem{
        .sadb = sadb,
        .status = status,
        .now_ns = std::move(now_ns),
        .perms = Permissions::with_read_group(options.read_group),
        .mounted_ns = mounted_ns,
        .views = ViewCache(sadb),
        .io = std::move(*io),
        .budget = RequestBudget(options.busy_request_rate),
        .files = {},
        .dirs = {},
        .watch = {},
    });
    auto mounted = std::make_unique<MountedFs>(std::move(fs), options.threads);
    if (auto started = mounted->start(resolved, options.debug); !started) {
        return std::move(started).take_error();
    }
    return std::unique_ptr<IpsecFs>(std::move(mounted));
}

}  // namespace ipsecfs::fs
