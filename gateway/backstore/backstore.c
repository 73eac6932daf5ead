#include "backstore.h"

#include <string.h>

#include "../util.h"

static const struct backstore_ops *const backstores[] = {
	&backstore_file_ops,
	&backstore_null_ops,
};

const struct backstore_ops *backstore_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(backstores); i++)
		if (strcmp(backstores[i]->name, name) == 0)
			return backstores[i];
	return NULL;
}
