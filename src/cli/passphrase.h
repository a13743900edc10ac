/*
 * passphrase.h - how commands that unwrap the vault's admin key get the
 * passphrase: from a file named on the command line (first line, for
 * scripts and tests), or from the terminal without echo. Never from the
 * environment or argv, which other users can read in /proc.
 */
#ifndef BULWARK_CLI_PASSPHRASE_H
#define BULWARK_CLI_PASSPHRASE_H

#include <stddef.h>

/*
 * *out gets the passphrase in sodium_malloc memory (free it with
 * cli_passphrase_free). With confirm, the terminal asks twice. Prints
 * its own error and returns -1 on failure.
 */
int cli_passphrase(const char *file, const char *prompt, int confirm,
    char **out, size_t *len);
void cli_passphrase_free(char *p);

#endif
