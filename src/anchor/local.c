/*
 * Local anchor: fixed 208-byte records (the 144-byte header encoding and
 * its 64-byte signature) appended to one file with O_APPEND and fsynced. A
 * torn last record (a crash mid-append) is ignored when reading and cut off
 * before the next append. Only the newest record is read (and its signature
 * checked): it is what rollback detection compares with.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anchor/anchor.h"
#include "util/log.h"

#define REC (VMDB_HEADER_ENCODED_LEN + 64)

typedef struct local_anchor {
    vmdb_anchor base;
    int fd;
    uint8_t pk[32];
    vmdb_hasher *h;
} local_anchor;

static int read_newest(local_anchor *la, vmdb_sheader *out, bool *found, off_t *good_len)
{
    struct stat st;
    *found = false;
    if (fstat(la->fd, &st) != 0)
        return VMDB_EIO;
    off_t n = st.st_size / REC;
    *good_len = n * REC;
    if (n == 0)
        return 0;
    uint8_t rec[REC];
    if (pread(la->fd, rec, REC, (n - 1) * REC) != REC)
        return VMDB_EIO;
    if (vmdb_header_decode(&out->h, VMDB_SLICE(rec, VMDB_HEADER_ENCODED_LEN)) != 0)
        return VMDB_EVERIFY;
    memcpy(out->sig, rec + VMDB_HEADER_ENCODED_LEN, 64);
    vmdb_header_hash(la->h, out->hash, &out->h);
    if (vmdb_header_verify_sig(out->sig, out->hash, la->pk) != 0) {
        LOG_ERROR("local anchor: the newest record does not verify against the identity key");
        return VMDB_EVERIFY;
    }
    *found = true;
    return 0;
}

static int local_newest(vmdb_anchor *a, vmdb_sheader *out, bool *found)
{
    off_t len;
    return read_newest((local_anchor *)a, out, found, &len);
}

static int local_append(vmdb_anchor *a, const vmdb_sheader *sh)
{
    local_anchor *la = (local_anchor *)a;
    struct stat st;
    if (fstat(la->fd, &st) != 0)
        return VMDB_EIO;
    if (st.st_size % REC && ftruncate(la->fd, st.st_size - st.st_size % REC) != 0)
        return VMDB_EIO;
    uint8_t rec[REC];
    vmdb_header_encode(rec, &sh->h);
    memcpy(rec + VMDB_HEADER_ENCODED_LEN, sh->sig, 64);
    ssize_t k = write(la->fd, rec, REC);
    if (k != REC || fdatasync(la->fd) != 0) {
        LOG_ERROR("local anchor: append failed: %s", strerror(errno));
        return VMDB_EIO;
    }
    return 0;
}

static void local_close(vmdb_anchor *a)
{
    local_anchor *la = (local_anchor *)a;
    if (la->fd >= 0)
        close(la->fd);
    vmdb_hasher_free(la->h);
    free(la);
}

static const vmdb_anchor_ops local_ops = {"local", local_newest, local_append,
                                          NULL,    local_close,  true};

int vmdb_anchor_local_open(vmdb_anchor **out, const char *path, const uint8_t pk[32])
{
    local_anchor *la = calloc(1, sizeof *la);
    *out = NULL;
    if (!la)
        return VMDB_ENOMEM;
    la->base.ops = &local_ops;
    memcpy(la->pk, pk, 32);
    la->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (la->fd < 0 || vmdb_hasher_new(&la->h, 0) != 0) {
        LOG_ERROR("local anchor %s: %s", path, strerror(errno));
        local_close(&la->base);
        return VMDB_EIO;
    }
    *out = &la->base;
    return 0;
}
