/*
 * The integrity status (src/trust/status): violations are counted and the
 * newest kept; a repairing admin transition (vmdb_status_repaired) clears
 * the reasons it repairs and the violations recorded so far, while the
 * total since start-up and the reasons owned by other checks (a rollback, a
 * lost lock) stay; violations after it count anew.
 */
#include <string.h>

#include "testutil.h"
#include "trust/status.h"

static void test_repaired_clears_violations(void **state)
{
    (void)state;
    vmdb_status *s = NULL;
    vmdb_status_view v;
    const char *ids[] = {"1", "2"};
    assert_int_equal(vmdb_status_new(&s), 0);
    vmdb_status_get(s, &v);
    assert_int_equal(v.violations, 0);
    assert_false(v.has_last);

    vmdb_status_violation(s, "notes", "stored row differs from the tree", ids, 2);
    vmdb_status_violation(s, "vmdb_state", "the state row changed outside vmdb", NULL, 0);
    vmdb_status_set(s, VMDB_BLOCK_STATE, "state");
    vmdb_status_set(s, VMDB_BLOCK_LOCK_LOST, "lock");
    vmdb_status_get(s, &v);
    assert_int_equal(v.violations, 2);
    assert_int_equal(v.total, 2);
    assert_true(v.has_last);
    assert_string_equal(v.last.table, "vmdb_state");
    assert_true(v.blocked);

    vmdb_status_repaired(s);
    vmdb_status_get(s, &v);
    assert_int_equal(v.violations, 0);
    assert_int_equal(v.total, 2);
    assert_false(v.has_last);
    assert_false(vmdb_status_is_set(s, VMDB_BLOCK_STATE));
    assert_true(vmdb_status_is_set(s, VMDB_BLOCK_LOCK_LOST)); /* not the repair's */
    assert_string_equal(v.blocked_msg, "lock");

    vmdb_status_violation(s, "notes", "leaf without a row found by create", ids + 1, 1);
    vmdb_status_get(s, &v);
    assert_int_equal(v.violations, 1);
    assert_int_equal(v.total, 3);
    assert_true(v.has_last);
    assert_int_equal(v.last.nids, 1);
    assert_string_equal(vmdb_violation_id(&v.last, 0), "2");
    vmdb_status_free(s);
    vmdb_status_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repaired_clears_violations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
