/*
 * The vmdb verifier library (libvmdb_verify): everything a client needs to
 * check vmdb's answers without trusting vmdb's database or host — row key
 * and value hashing (with RFC 8785 JCS), single-key and multi-key proofs
 * against a tree root, state headers and their Ed25519 signatures, and
 * history-tree proofs linking an old header to a newer, anchored one, and
 * the signed checkpoint note of the history tree. It
 * depends on libcrypto and libsodium only. PROTOCOL.md defines every byte.
 */
#ifndef VMDB_VERIFY_H
#define VMDB_VERIFY_H

#include "vmdb/common.h"
#include "vmdb/hash.h"
#include "vmdb/json.h"
#include "vmdb/rowhash.h"
#include "vmdb/proof.h"
#include "vmdb/header.h"
#include "vmdb/hist.h"
#include "vmdb/note.h"

#endif
