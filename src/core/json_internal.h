/*
 * Shared between the parser and the JCS writer: the value layout and the
 * shortest round-trip digit generator that both the round-trip rule and the
 * ECMAScript number form are built on.
 */
#ifndef VMDB_CORE_JSON_INTERNAL_H
#define VMDB_CORE_JSON_INTERNAL_H

#include "vmdb/json.h"

typedef struct vmdb_json_member {
    const uint8_t *key;
    size_t klen;
    vmdb_json *val;
} vmdb_json_member;

struct vmdb_json {
    vmdb_json_type type;
    size_t n; /* string bytes, array elements or object members */
    union {
        double num;
        const uint8_t *str;
        vmdb_json **items;
        vmdb_json_member *members;
    } u;
};

/* Shortest decimal digits of a finite, positive double that parse back to
 * it, ECMAScript's choice among ties: d = 0.digits × 10^*exp10. `digits`
 * gets 1..17 characters and a NUL; returns the digit count. */
int vmdb_jcs_shortest(double d, char digits[18], int *exp10);

#endif
