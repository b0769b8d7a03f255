/*
 * The instance lock: one vmdb per database. A PostgreSQL advisory lock is
 * held on a connection of its own; a monitor thread pings that connection
 * every second and, when it dropped, reconnects and takes the lock again.
 * While the lock is not held, writes are refused (VMDB_BLOCK_LOCK_LOST in
 * the status): another instance may have taken it meanwhile.
 *
 * The lock owns its connection, its thread and a mutex that only paces and
 * stops that thread.
 */
#ifndef VMDB_STORE_INSTLOCK_H
#define VMDB_STORE_INSTLOCK_H

#include "trust/status.h"

typedef struct vmdb_instlock vmdb_instlock;

/* Takes the lock. `status` must outlive the lock. *out is the caller's
 * (vmdb_instlock_free). VMDB_EBUSY (another instance holds it, logged),
 * VMDB_EIO (cannot connect), VMDB_ENOMEM. */
int vmdb_instlock_take(vmdb_instlock **out, const char *url, vmdb_status *status);
/* Starts the monitor thread. VMDB_ENOMEM. */
int vmdb_instlock_start(vmdb_instlock *l);
/* Stops the monitor and closes the connection, which releases the lock.
 * Accepts NULL. */
void vmdb_instlock_free(vmdb_instlock *l);

#endif
