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
int vmdb_cli_keys(int argc, char **argv);
/* Loads ./.env for the settings the environment lacks (as vmdb serve). */
void vmdb_cli_dotenv(void);

#endif
