/*
 * receive.h - the vault side of the receive protocol (proto.h): the body
 * of `bulwark vault receive`, the forced command of an agent's SSH key.
 *
 * It trusts nothing it reads. Every pack is checked against its name and
 * for structure and vault key before the vault keeps it; nothing is ever
 * overwritten or removed; a snapshot is kept only if the host's key signs
 * it, it names this host and this vault's key, and every pack it names is
 * one this host sent and the vault holds. The vault's clock dates it.
 */
#ifndef BULWARK_VAULT_RECEIVE_H
#define BULWARK_VAULT_RECEIVE_H

#include "vault/store.h"

struct vault_receive_opts {
	const char *host;	/* from the forced command: who this is */
	const char *source;	/* for the audit log, e.g. SSH_CONNECTION's
				 * client address; may be NULL */
	int idle_timeout_ms;	/* 0: none */
	int no_audit;		/* fuzzing: skip the audit log's fsyncs */
};

/*
 * Serves one agent on in/out until BYE, end of input or a refusal.
 * Returns ERR_OK after a BYE; otherwise the reason the session ended
 * (the agent got an ERR frame with the words). why gets a one-line reason.
 */
int vault_receive(struct vault *v, const struct vault_receive_opts *o,
    int in, int out, char *why, size_t whylen) WUR;

#endif
