/*
 * The vmdb command line: one binary, several subcommands. Each subcommand
 * parses its own flags; this file only dispatches and prints usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vmdb/json.h"

static void usage(FILE *f)
{
    fputs("usage: vmdb <command> [options]\n"
          "\n"
          "commands:\n"
          "  serve [--help]                      run the HTTP API (configuration: vmdb serve "
          "--help)\n"
          "  keygen <path>                       create an identity key file\n"
          "  keys create|list|revoke             API keys with roles (vmdb keys --help)\n"
          "  anchor status|list|verify           the anchors, seen from outside the server\n"
          "  verify [FILE|-] (--public-key HEX | --identity-from URL) [--chain-id HEX]\n"
          "         [--state FILE] [--server URL] [--history FILE] [--origin NAME]\n"
          "                                      check a saved answer, history proof, header\n"
          "                                      or checkpoint with the public key alone;\n"
          "                                      --state catches rollbacks and forks\n"
          "                                      (vmdb verify --help)\n"
          "  bench tree [--leaves N] [--quick]   tree speed and memory benchmark\n"
          "  jcs                                 canonicalise JSON from stdin (RFC 8785)\n"
          "  jcs --number-bits                   format IEEE-754 doubles given as 16 hex\n"
          "                                      digits per line (test helper)\n"
          "  help                                this text\n",
          f);
}

/* Reads all of stdin, up to `cap` bytes. */
static int read_stdin(vmdb_buf *b, size_t cap)
{
    uint8_t chunk[65536];
    size_t n;
    b->max = cap;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (vmdb_buf_put(b, chunk, n) != 0)
            return -1;
    return ferror(stdin) ? -1 : 0;
}

static uint64_t hex64(const char *s, size_t n, int *ok)
{
    uint64_t v = 0;
    *ok = n == 16;
    for (size_t i = 0; i < n && *ok; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            *ok = 0;
        v = v << 4 | (uint64_t)(d & 15);
    }
    return v;
}

static int cmd_jcs(int argc, char **argv)
{
    int rc = 1;
    vmdb_buf in = VMDB_BUF_INIT, out = VMDB_BUF_INIT;
    bool bits = argc > 1 && strcmp(argv[1], "--number-bits") == 0;

    if (read_stdin(&in, (size_t)64 << 20) != 0) {
        fprintf(stderr, "vmdb jcs: cannot read stdin (%s)\n", vmdb_error_last());
        goto done;
    }
    if (bits) {
        size_t i = 0;
        while (i < in.len) {
            size_t j = i;
            while (j < in.len && in.ptr[j] != '\n')
                j++;
            if (j > i) {
                int ok;
                uint64_t u = hex64((const char *)in.ptr + i, j - i, &ok);
                double d;
                memcpy(&d, &u, sizeof(d));
                out.len = 0;
                if (!ok || vmdb_jcs_number(&out, d) != 0) {
                    fprintf(stderr, "vmdb jcs: bad line\n");
                    goto done;
                }
                fwrite(out.ptr, 1, out.len, stdout);
                fputc('\n', stdout);
            }
            i = j + 1;
        }
        rc = 0;
        goto done;
    }
    if (vmdb_jcs_canonicalize(&out, (vmdb_slice){in.ptr, in.len}, NULL) != 0) {
        fprintf(stderr, "vmdb jcs: %s\n", vmdb_error_last());
        goto done;
    }
    fwrite(out.ptr, 1, out.len, stdout);
    rc = 0;
done:
    vmdb_buf_free(&in);
    vmdb_buf_free(&out);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "bench") == 0 && argc > 2 && strcmp(argv[2], "tree") == 0)
        return vmdb_cli_bench_tree(argc - 2, argv + 2);
    if (strcmp(argv[1], "anchor") == 0)
        return vmdb_cli_anchor(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return vmdb_cli_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "keys") == 0)
        return vmdb_cli_keys(argc - 1, argv + 1);
    if (strcmp(argv[1], "keygen") == 0)
        return vmdb_cli_keygen(argc - 1, argv + 1);
    if (strcmp(argv[1], "serve") == 0)
        return vmdb_cli_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "jcs") == 0)
        return cmd_jcs(argc - 1, argv + 1);
    fprintf(stderr, "vmdb: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
