/*
 * Local anchor (PROTOCOL.md §8.2): fixed records, a header encoding and its
 * header signature, appended with O_APPEND and fsynced. v2 headers go to
 * anchors2.bin (242-byte records), v1 headers to anchors.bin (208 bytes),
 * which a chain that began under v1 keeps as it was; the newest anchor is
 * the last record of anchors2.bin, or of anchors.bin while anchors2.bin is
 * empty. A torn last record (a crash mid-append) is ignored when reading
 * and cut off before the next append. Only the newest record is read (and
 * its signature checked): it is what rollback detection compares with.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anchor/anchor.h"
#include "util/log.h"

#define REC1 (VMDB_HEADER_V1_LEN + 64)
#define REC2 (VMDB_HEADER_V2_LEN + 64)

typedef struct local_anchor {
    vmdb_anchor base;
    int fd[2]; /* anchors.bin, anchors2.bin */
    uint8_t pk[32];
    vmdb_hasher *h;
} local_anchor;

/* The last whole record of file `v` (0: v1, 1: v2). */
static int read_last(local_anchor *la, int v, vmdb_sheader *out, bool *found)
{
    struct stat st;
    off_t rec = v ? REC2 : REC1;
    uint8_t buf[REC2];
    *found = false;
    if (fstat(la->fd[v], &st) != 0)
        return VMDB_EIO;
    off_t n = st.st_size / rec;
    if (n == 0)
        return 0;
    if (pread(la->fd[v], buf, (size_t)rec, (n - 1) * rec) != rec)
        return VMDB_EIO;
    size_t hl = (size_t)rec - 64;
    if (vmdb_header_decode(&out->h, VMDB_SLICE(buf, hl)) != 0 || out->h.version != (v ? 2 : 1))
        return VMDB_EVERIFY;
    memcpy(out->sig, buf + hl, 64);
    vmdb_header_hash(la->h, out->hash, &out->h);
    if (vmdb_header_verify_sig(out->sig, out->h.version, VMDB_SIG_COMMITTED, out->hash, la->pk) !=
        0) {
        LOG_ERROR("local anchor: the newest record does not verify against the identity key");
        return VMDB_EVERIFY;
    }
    *found = true;
    return 0;
}

static int local_newest(vmdb_anchor *a, vmdb_sheader *out, bool *found)
{
    local_anchor *la = (local_anchor *)a;
    int rc = read_last(la, 1, out, found);
    if (rc == 0 && !*found)
        rc = read_last(la, 0, out, found);
    return rc;
}

static int local_append(vmdb_anchor *a, const vmdb_sheader *sh)
{
    local_anchor *la = (local_anchor *)a;
    struct stat st;
    int v = sh->h.version == 1 ? 0 : 1;
    off_t rec = v ? REC2 : REC1;
    if (fstat(la->fd[v], &st) != 0)
        return VMDB_EIO;
    if (st.st_size % rec && ftruncate(la->fd[v], st.st_size - st.st_size % rec) != 0)
        return VMDB_EIO;
    uint8_t buf[REC2];
    size_t hl = vmdb_header_encode(buf, &sh->h);
    memcpy(buf + hl, sh->sig, 64);
    ssize_t k = write(la->fd[v], buf, (size_t)rec);
    if (k != rec || fdatasync(la->fd[v]) != 0) {
        LOG_ERROR("local anchor: append failed: %s", strerror(errno));
        return VMDB_EIO;
    }
    return 0;
}

static void local_close(vmdb_anchor *a)
{
    local_anchor *la = (local_anchor *)a;
    for (int v = 0; v < 2; v++)
        if (la->fd[v] >= 0)
            close(la->fd[v]);
    vmdb_hasher_free(la->h);
    free(la);
}

static const vmdb_anchor_ops local_ops = {"local", local_newest, local_append,
                                          NULL,    local_close,  true};

int vmdb_anchor_local_open(vmdb_anchor **out, const char *path_v1, const char *path_v2,
                           const uint8_t pk[32])
{
    local_anchor *la = calloc(1, sizeof *la);
    *out = NULL;
    if (!la)
        return VMDB_ENOMEM;
    la->base.ops = &local_ops;
    memcpy(la->pk, pk, 32);
    la->fd[0] = open(path_v1, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    la->fd[1] = open(path_v2, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (la->fd[0] < 0 || la->fd[1] < 0 || vmdb_hasher_new(&la->h, 0) != 0) {
        LOG_ERROR("local anchor %s: %s", la->fd[0] < 0 ? path_v1 : path_v2, strerror(errno));
        local_close(&la->base);
        return VMDB_EIO;
    }
    *out = &la->base;
    return 0;
}
