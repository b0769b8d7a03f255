/*
 * Row key and value hashing. The length prefixes in the key and the domain
 * tags ("vmdb/v1/key", "vmdb/v1/row") keep keys, values, nodes and headers
 * from ever hashing the same input.
 */
#include <string.h>

#include "core/error.h"
#include "vmdb/rowhash.h"

int vmdb_row_key(vmdb_hasher *h, uint8_t out[32], vmdb_slice table, vmdb_slice pk)
{
    static const uint8_t tag[] = "vmdb/v1/key"; /* NUL terminator is the 0x00 */
    uint8_t tl[2], pl[4];
    if (table.len > 0xFFFF)
        return vmdb_error_set(VMDB_EINVAL, "table name longer than 65535 bytes");
    if ((uint64_t)pk.len > 0xFFFFFFFFu)
        return vmdb_error_set(VMDB_EINVAL, "primary key longer than 2^32-1 bytes");
    tl[0] = (uint8_t)(table.len >> 8);
    tl[1] = (uint8_t)table.len;
    pl[0] = (uint8_t)(pk.len >> 24);
    pl[1] = (uint8_t)(pk.len >> 16);
    pl[2] = (uint8_t)(pk.len >> 8);
    pl[3] = (uint8_t)pk.len;
    vmdb_slice parts[5] = {{tag, sizeof(tag)}, {tl, 2}, table, {pl, 4}, pk};
    vmdb_hash_parts(h, out, parts, 5);
    return 0;
}

void vmdb_row_value_jcs(vmdb_hasher *h, uint8_t out[32], vmdb_slice jcs)
{
    static const uint8_t tag[] = "vmdb/v1/row";
    vmdb_slice parts[2] = {{tag, sizeof(tag)}, jcs};
    vmdb_hash_parts(h, out, parts, 2);
}

int vmdb_row_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice row_json,
                   const vmdb_json_limits *lim, vmdb_buf *scratch)
{
    int rc = 0;
    vmdb_json_doc *doc = NULL;

    scratch->len = 0;
    if ((rc = vmdb_json_parse(&doc, row_json, lim)) != 0)
        goto done;
    if (vmdb_json_typeof(vmdb_json_doc_root(doc)) != VMDB_JSON_OBJECT) {
        rc = vmdb_error_set(VMDB_EINVAL, "a row must be a JSON object");
        goto done;
    }
    if ((rc = vmdb_jcs_write(scratch, vmdb_json_doc_root(doc))) != 0)
        goto done;
    vmdb_row_value_jcs(h, out, (vmdb_slice){scratch->ptr, scratch->len});
done:
    vmdb_json_doc_free(doc);
    return rc;
}

int vmdb_row_json_column(vmdb_buf *out, vmdb_slice text, bool *wrapped)
{
    /* 127, not 128: the value sits one level inside the row object, and the
     * row as a whole must stay within §2.1's 128 levels. */
    static const vmdb_json_limits lim = {16u << 20, 127};
    vmdb_json_doc *doc = NULL;
    size_t start = out->len;
    bool wrap = false;
    int rc = vmdb_json_parse(&doc, text, &lim);
    if (rc == VMDB_ENOMEM)
        goto done;
    if (rc == 0) {
        const vmdb_json *root = vmdb_json_doc_root(doc);
        vmdb_slice k0 = vmdb_json_key_at(root, 0);
        wrap = vmdb_json_typeof(root) == VMDB_JSON_OBJECT && vmdb_json_size(root) == 1 &&
               k0.len == 6 && memcmp(k0.ptr, "$jsonb", 6) == 0;
        if (!wrap)
            rc = vmdb_jcs_write(out, root);
    } else {
        wrap = true;
    }
    if (wrap) {
        rc = vmdb_buf_put(out, "{\"$jsonb\":", 10);
        rc = rc ? rc : vmdb_jcs_string(out, text);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
done:
    vmdb_json_doc_free(doc);
    if (rc)
        out->len = start;
    else if (wrapped)
        *wrapped = wrap;
    return rc;
}

static bool named(vmdb_slice key, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == key.len && memcmp(names[i], key.ptr, key.len) == 0)
            return true;
    return false;
}

int vmdb_row_value_cols(vmdb_hasher *h, uint8_t out[32], vmdb_slice row_json,
                        const char *const *json_cols, size_t n, const vmdb_json_limits *lim,
                        vmdb_buf *scratch)
{
    int rc = 0;
    vmdb_json_doc *doc = NULL;

    scratch->len = 0;
    if ((rc = vmdb_json_parse(&doc, row_json, lim)) != 0)
        goto done;
    const vmdb_json *row = vmdb_json_doc_root(doc);
    if (vmdb_json_typeof(row) != VMDB_JSON_OBJECT) {
        rc = vmdb_error_set(VMDB_EINVAL, "a row must be a JSON object");
        goto done;
    }
    /* The members keep the parser's JCS order; only the JSON columns'
     * values change, and a member's name decides its place, not its value. */
    rc = vmdb_buf_putc(scratch, '{');
    for (size_t i = 0; rc == 0 && i < vmdb_json_size(row); i++) {
        vmdb_slice key = vmdb_json_key_at(row, i);
        const vmdb_json *v = vmdb_json_value_at(row, i);
        rc = i ? vmdb_buf_putc(scratch, ',') : 0;
        rc = rc ? rc : vmdb_jcs_string(scratch, key);
        rc = rc ? rc : vmdb_buf_putc(scratch, ':');
        if (rc == 0 && vmdb_json_typeof(v) == VMDB_JSON_STRING && named(key, json_cols, n))
            rc = vmdb_row_json_column(scratch, vmdb_json_string(v), NULL);
        else if (rc == 0)
            rc = vmdb_jcs_write(scratch, v);
    }
    rc = rc ? rc : vmdb_buf_putc(scratch, '}');
    if (rc == 0)
        vmdb_row_value_jcs(h, out, (vmdb_slice){scratch->ptr, scratch->len});
done:
    if (rc)
        scratch->len = 0;
    vmdb_json_doc_free(doc);
    return rc;
}

static void put_u32(uint8_t b[4], size_t n)
{
    b[0] = (uint8_t)(n >> 24);
    b[1] = (uint8_t)(n >> 16);
    b[2] = (uint8_t)(n >> 8);
    b[3] = (uint8_t)n;
}

int vmdb_range_key(vmdb_hasher *h, uint8_t out[32], vmdb_slice table)
{
    static const uint8_t tag[] = "vmdb/v2/id-range-key"; /* NUL terminator is the 0x00 */
    uint8_t tl[2];
    if (table.len > 0xFFFF)
        return vmdb_error_set(VMDB_EINVAL, "table name longer than 65535 bytes");
    tl[0] = (uint8_t)(table.len >> 8);
    tl[1] = (uint8_t)table.len;
    vmdb_slice parts[3] = {{tag, sizeof(tag)}, {tl, 2}, table};
    vmdb_hash_parts(h, out, parts, 3);
    return 0;
}

int vmdb_range_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice lo, vmdb_slice hi)
{
    static const uint8_t tag[] = "vmdb/v2/id-range";
    uint8_t ll[4], hl[4];
    if ((uint64_t)lo.len > 0xFFFFFFFFu || (uint64_t)hi.len > 0xFFFFFFFFu)
        return vmdb_error_set(VMDB_EINVAL, "id text longer than 2^32-1 bytes");
    put_u32(ll, lo.len);
    put_u32(hl, hi.len);
    vmdb_slice parts[5] = {{tag, sizeof(tag)}, {ll, 4}, lo, {hl, 4}, hi};
    vmdb_hash_parts(h, out, parts, 5);
    return 0;
}

void vmdb_transition_key(vmdb_hasher *h, uint8_t out[32], uint64_t seq)
{
    static const uint8_t tag[] = "vmdb/v2/transition-key"; /* NUL terminator is the 0x00 */
    uint8_t s[8];
    for (int i = 0; i < 8; i++)
        s[i] = (uint8_t)(seq >> (56 - 8 * i));
    vmdb_slice parts[2] = {{tag, sizeof(tag)}, {s, 8}};
    vmdb_hash_parts(h, out, parts, 2);
}

void vmdb_transition_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice record_jcs)
{
    static const uint8_t tag[] = "vmdb/v2/transition";
    vmdb_slice parts[2] = {{tag, sizeof(tag)}, record_jcs};
    vmdb_hash_parts(h, out, parts, 2);
}

int vmdb_transition_value_json(vmdb_hasher *h, uint8_t out[32], vmdb_slice record_json,
                               vmdb_buf *scratch)
{
    scratch->len = 0;
    int rc = vmdb_jcs_canonicalize(scratch, record_json, NULL);
    if (rc)
        return rc;
    /* Only an object is a record (its first canonical byte says so). */
    if (scratch->len == 0 || scratch->ptr[0] != '{') {
        scratch->len = 0;
        return vmdb_error_set(VMDB_EINVAL, "a transition record must be a JSON object");
    }
    vmdb_transition_value(h, out, (vmdb_slice){scratch->ptr, scratch->len});
    return 0;
}

void vmdb_leaf_hash(vmdb_hasher *h, uint8_t out[32], const uint8_t k[32], const uint8_t v[32])
{
    vmdb_hash_node(h, out, 0x00, k, v);
}
