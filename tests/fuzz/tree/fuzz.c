/*
 * fuzz.c - libFuzzer harness for tree nodes (backup/tree.h).
 *
 * Parses arbitrary bytes. A node that parses must be canonical: encoding
 * it again gives exactly the input, and parsing that gives the same
 * number of entries. A refusal must leave the out-pointer NULL. Anything
 * else aborts. Seeds come from tests/unit/backup/test_tree.c
 * (BULWARK_TREE_CORPUS=DIR).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/tree.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Invariants of a parsed entry that tree.h promises. */
static void
check_entry(const struct tree_entry *e)
{
	if (e == NULL || e->name == NULL || e->name_len == 0 ||
	    e->name_len > TREE_NAME_MAX || e->mode > TREE_MODE_MASK ||
	    e->user_len > TREE_OWNER_NAME_MAX ||
	    e->group_len > TREE_OWNER_NAME_MAX ||
	    e->nchunks > TREE_MAX_CHUNKS)
		abort();
	if (e->type != TREE_REG && (e->nchunks != 0 || e->size != 0))
		abort();
	if (e->type == TREE_SYMLINK &&
	    (e->target_len == 0 || e->target_len > TREE_TARGET_MAX))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree *t = NULL, *t2 = NULL;
	uint8_t *again = NULL;
	size_t len = 0, n;

	if (tree_parse(data, size, &t) != ERR_OK) {
		if (t != NULL)
			abort();
		return 0;
	}
	n = tree_count(t);
	for (size_t i = 0; i < n; i++)
		check_entry(tree_entry_at(t, i));
	if (tree_entry_at(t, n) != NULL)
		abort();
	if (tree_encode(t, &again, &len) != ERR_OK)
		abort();
	if (len != size || memcmp(again, data, size) != 0)
		abort();
	if (tree_parse(again, len, &t2) != ERR_OK || tree_count(t2) != n)
		abort();
	tree_free(t2);
	tree_free(t);
	free(again);
	return 0;
}
