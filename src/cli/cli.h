/*
 * Subcommands of the vmdb binary.
 */
#ifndef VMDB_CLI_H
#define VMDB_CLI_H

int vmdb_cli_bench_tree(int argc, char **argv);
int vmdb_cli_serve(int argc, char **argv);
int vmdb_cli_keygen(int argc, char **argv);
int vmdb_cli_anchor(int argc, char **argv);
int vmdb_cli_verify(int argc, char **argv);

#endif
