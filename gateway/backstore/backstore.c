/* The one table of backstores: the core finds them here by name and never
 * includes a backstore's own header. */
#include "backstore.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../util.h"

static const struct backstore_ops *const backstores[] = {
	&backstore_file_ops,
	&backstore_null_ops,
#ifdef HAVE_RBD
	&backstore_rbd_ops,
#endif
};

const struct backstore_ops *backstore_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backstores); i++)
		if (strcmp(backstores[i]->name, name) == 0)
			return backstores[i];
	return NULL;
}

int backstore_configure(const char *name, const char *key, const char *value,
			char *err, size_t errlen)
{
	const struct backstore_ops *ops = backstore_find(name);

	if (!ops) {
		snprintf(err, errlen, "backstore %s is not built in", name);
		return -ENOENT;
	}
	if (!ops->configure) {
		snprintf(err, errlen, "backstore %s has no setting %s", name, key);
		return -ENOENT;
	}
	return ops->configure(key, value, err, errlen);
}

void backstore_shutdown_all(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(backstores); i++)
		if (backstores[i]->shutdown)
			backstores[i]->shutdown();
}

const struct backstore_fencing_ops *backstore_fencing(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(backstores); i++)
		if (backstores[i]->fencing)
			return backstores[i]->fencing;
	return NULL;
}

void backstore_names(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(backstores) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "",
					 backstores[i]->name);
}
