/* gwcli's shell without a terminal or a daemon (tools/gwcli/tree.c,
 * complete.c): the tree built from canned answers of a 3-node cluster with
 * node 3 down (paths, names without regard to case, every node's portals
 * under a target, a down node's sessions unknown), this node alone when
 * sangwd has no status request, the relative commands rewritten into
 * one-shot commands (another node's portals refused), and what TAB offers
 * at each kind of place. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../tools/gwcli/shell.h"

#undef main     /* gwcli's own main() is renamed away (Makefile.am) */

#define IQN  "iqn.2026-11.org.sangw:db"
#define INIT "iqn.1994-05.com.redhat:db1"

static const char *const list_answer =
	"{\"ok\":true,\"node_id\":1,\"config_version\":4,\"portals\":[\"0.0.0.0:3260\"],"
	"\"targets\":[{\"iqn\":\"" IQN "\",\"demo_mode\":false,\"chap\":{\"set\":false},"
	"\"mutual_chap\":{\"set\":false},\"params\":{\"MaxBurstLength\":1048576,\"MaxRecvDataSegmentLength\":262144,"
	"\"ImmediateData\":true},\"sessions\":1,"
	"\"luns\":[{\"lun\":0,\"spec\":\"null,size=64M\",\"size_bytes\":67108864,\"naa\":\"6534\","
	"\"port_groups\":[{\"id\":1,\"state\":\"active-optimized\"},{\"id\":2,\"state\":\"standby\"}]},"
	"{\"lun\":12,\"spec\":\"null,size=1G\",\"size_bytes\":1073741824,\"naa\":\"6535\"}],"
	"\"acls\":[{\"initiator\":\"" INIT "\",\"chap\":{\"set\":true,\"user\":\"db1\"},"
	"\"mutual_chap\":{\"set\":false},\"lun_map\":[{\"mapped_lun\":0,\"lun\":12}],\"sessions\":1}]}]}";

static const char *const status_answer =
	"{\"ok\":true,\"node_id\":1,\"cluster\":\"corosync\","
	"\"quorum\":{\"quorate\":true,\"ready\":true,\"configured\":3,\"needed\":2,\"present\":[1,2],\"missing\":[3]},"
	"\"nodes\":[{\"id\":1,\"name\":\"gw1\",\"address\":\"203.0.113.1\",\"up\":true,\"state\":\"up\","
	"\"version\":\"0.1.0\",\"quorate\":true,\"ready\":true,\"config_version\":4,"
	"\"portals\":[\"0.0.0.0:3260\",\"203.0.113.1:3261\"],\"sessions\":0},"
	"{\"id\":2,\"name\":\"gw2\",\"address\":\"203.0.113.2\",\"up\":true,\"state\":\"up\",\"version\":\"0.1.0\","
	"\"quorate\":true,\"ready\":true,\"config_version\":4,\"portals\":[\"0.0.0.0:3260\"],\"sessions\":1},"
	"{\"id\":3,\"name\":\"gw3\",\"address\":\"203.0.113.3\",\"up\":false,\"state\":\"down\"}]}";

static const char *const sessions_answer =
	"{\"ok\":true,\"sessions\":[{\"id\":\"0x0000020000000001\",\"initiator\":\"" INIT "\","
	"\"initiator_port\":\"" INIT ",i,0x23d000000001\",\"target\":\"" IQN "\",\"acl\":\"" INIT "\","
	"\"fabric\":\"iscsi\",\"node\":2}]}";

static void build(struct tree *t, bool cluster)
{
	memset(t, 0, sizeof(*t));
	tree_build(t, json_tokener_parse(list_answer), cluster ? json_tokener_parse(status_answer) : NULL,
		   json_tokener_parse(sessions_answer));
	assert_non_null(t->root);
}

static const struct tnode *at(const struct tree *t, const char *path)
{
	return tree_resolve(t, "/", path);
}

static void test_paths(void **state)
{
	struct tree t;
	const struct tnode *n;
	char *path;

	(void)state;
	build(&t, true);
	assert_int_equal(t.local_node, 1);
	assert_non_null(n = at(&t, "/targets/" IQN "/luns/12"));
	assert_int_equal(n->kind, TN_LUN);
	assert_string_equal(tnode_part(n, TN_TARGET), IQN);
	assert_false(tnode_is_container(n));
	/* IQNs compare without regard to case; the path is the canonical one */
	assert_non_null(n = at(&t, "/TARGETS/IQN.2026-11.ORG.SANGW:DB/./acls/../acls/" INIT));
	path = tnode_path(n);
	assert_string_equal(path, "/targets/" IQN "/acls/" INIT);
	free(path);
	assert_null(at(&t, "/targets/iqn.2026-11.org.sangw:nope"));
	assert_null(at(&t, "/targets/" IQN "/luns/7"));
	/* relative to where one stands; ".." stops at / */
	assert_ptr_equal(tree_resolve(&t, "/targets/" IQN, "luns/0"), at(&t, "/targets/" IQN "/luns/0"));
	assert_ptr_equal(tree_resolve(&t, "/targets", "../../.."), t.root);
	path = tnode_path(t.root);
	assert_string_equal(path, "/");
	free(path);
	tree_free(&t);
}

static void test_nodes_and_portals(void **state)
{
	struct tree t;
	const struct tnode *n;

	(void)state;
	build(&t, true);
	assert_non_null(n = at(&t, "/nodes"));
	assert_int_equal(n->n_child, 3);
	assert_non_null(strstr(n->detail, "missing 3"));
	assert_non_null(n = at(&t, "/nodes/3"));
	assert_non_null(strstr(n->detail, "down"));
	assert_non_null(n = at(&t, "/nodes/3/sessions"));
	assert_string_equal(n->detail, "[unknown: node down]");
	/* the session is on node 2, and only there */
	assert_non_null(at(&t, "/nodes/2/sessions/0x0000020000000001"));
	assert_int_equal(at(&t, "/nodes/1/sessions")->n_child, 0);
	assert_non_null(at(&t, "/nodes/1/portals/203.0.113.1:3261"));
	/* a target is reachable through every node's portals: one entry each */
	assert_non_null(n = at(&t, "/targets/" IQN "/portals"));
	assert_int_equal(n->n_child, 2);
	assert_string_equal(tnode_child(n, "0.0.0.0:3260")->detail, "[nodes 1, 2]");
	assert_string_equal(tnode_child(n, "203.0.113.1:3261")->detail, "[node 1]");
	tree_free(&t);
}

static void test_this_node_only(void **state)
{
	struct tree t;
	const struct tnode *n;

	(void)state;
	build(&t, false);
	assert_non_null(n = at(&t, "/nodes"));
	assert_int_equal(n->n_child, 1);
	assert_non_null(at(&t, "/nodes/1/portals/0.0.0.0:3260"));
	assert_non_null(strstr(at(&t, "/nodes/1")->detail, "no status request"));
	tree_free(&t);
}

/* argv for a line of words */
static int split(char *line, char **argv)
{
	int argc = 0;

	for (char *w = strtok(line, " "); w; w = strtok(NULL, " "))
		argv[argc++] = w;
	return argc;
}

/* The one-shot command a relative line at path runs; NULL when refused. */
static char *expanded(const struct tree *t, const char *path, const char *typed)
{
	const struct tnode *here = at(t, path);
	char line[512], *argv[16], **x_argv, *out;
	const struct relative_command *rc;
	int argc, x_argc;
	size_t used = 0;

	snprintf(line, sizeof(line), "%s", typed);
	argc = split(line, argv);
	assert_non_null(here);
	if (!(rc = relative_find(here->kind, argc, argv)))
		return NULL;
	if (relative_expand(rc, here, t->local_node, argc, argv, &x_argc, &x_argv) != 0)
		return NULL;
	out = calloc(1, 1024);
	for (int i = 0; i < x_argc; i++)
		used += (size_t)snprintf(out + used, 1024 - used, "%s%s", i ? " " : "", x_argv[i]);
	argv_free(x_argc, x_argv);
	return out;
}

static void check_expansion(const struct tree *t, const char *path, const char *typed, const char *want)
{
	char *got = expanded(t, path, typed);

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_relative_commands(void **state)
{
	struct tree t;

	(void)state;
	build(&t, true);
	check_expansion(&t, "/targets", "create iqn.2026-11.org.sangw:new --demo",
			"target create iqn.2026-11.org.sangw:new --demo");
	check_expansion(&t, "/targets/" IQN, "param set MaxBurstLength 2M", "param set " IQN " MaxBurstLength 2M");
	check_expansion(&t, "/targets/" IQN "/luns", "create null,size=1G --lun 3",
			"lun create " IQN " null,size=1G --lun 3");
	check_expansion(&t, "/targets/" IQN "/luns", "resize 12 2G", "lun resize " IQN " 12 2G");
	check_expansion(&t, "/targets/" IQN "/luns/12", "alua set standby --tpg 2",
			"alua set " IQN " 12 standby --tpg 2");
	check_expansion(&t, "/targets/" IQN "/acls", "delete " INIT, "acl delete " IQN " " INIT);
	check_expansion(&t, "/targets/" IQN "/acls/" INIT, "chap clear --mutual-only",
			"chap clear " IQN " " INIT " --mutual-only");
	check_expansion(&t, "/targets/" IQN "/portals", "create 203.0.113.1:3262", "portal create 203.0.113.1:3262");
	check_expansion(&t, "/nodes/1/portals", "delete 203.0.113.1:3261", "portal delete 203.0.113.1:3261");
	/* another node's portals are that node's business */
	check_expansion(&t, "/nodes/2/portals", "create 203.0.113.2:3262", NULL);
	/* words with no meaning there: the one-shot commands (or nothing) */
	check_expansion(&t, "/", "create x", NULL);
	check_expansion(&t, "/targets/" IQN "/luns", "lun delete " IQN " 0", NULL);
	check_expansion(&t, "/targets/" IQN "/luns/12", "alua get", NULL);
	tree_free(&t);
}

/* The candidates TAB offers after line at cwd, space separated in order. */
static void check_completion(const struct tree *t, const char *cwd, const char *line, const char *want)
{
	struct completion c;
	char got[2048] = "";
	size_t used = 0;

	complete_line(t, cwd, line, &c);
	for (size_t i = 0; i < c.n; i++)
		used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s%s", i ? " " : "", c.word[i],
					 c.no_space[i] ? "" : "_");
	completion_free(&c);
	assert_string_equal(got, want);
}

static void test_completion(void **state)
{
	struct tree t;

	(void)state;
	build(&t, true);
	/* "_": a space follows; paths that go on and "file:" get none */
	check_completion(&t, "/", "cd /tar", "/targets/");
	check_completion(&t, "/", "ls ", "targets/ nodes/");
	check_completion(&t, "/targets", "cd IQN", IQN "/");
	check_completion(&t, "/targets/" IQN, "cd luns/1", "luns/12_");
	check_completion(&t, "/", "ver", "version_");
	check_completion(&t, "/", "lun ", "create_ delete_ resize_");
	check_completion(&t, "/", "lun delete iqn", IQN "_");
	check_completion(&t, "/", "lun delete " IQN " ", "0_ 12_");
	check_completion(&t, "/", "alua set " IQN " 0 st", "standby_");
	check_completion(&t, "/", "alua set " IQN " 0 standby --tpg ", "1_ 2_ 3_");
	check_completion(&t, "/", "param set " IQN " Max", "MaxBurstLength_ MaxRecvDataSegmentLength_");
	check_completion(&t, "/", "lun create " IQN " ", "file: null rbd:");
	check_completion(&t, "/", "lun create " IQN " null --", "--lun_");
	check_completion(&t, "/", "portal delete ", "0.0.0.0:3260_ 203.0.113.1:3261_");
	/* relative: the words of the place, then the same arguments */
	check_completion(&t, "/targets/" IQN "/luns", "res", "resize_");
	check_completion(&t, "/targets/" IQN "/luns", "re", "reload_ resize_");   /* one-shot, then relative */
	check_completion(&t, "/targets/" IQN "/luns", "delete ", "0_ 12_");
	check_completion(&t, "/targets/" IQN "/luns", "alua ", "set_");
	check_completion(&t, "/targets/" IQN "/luns/12", "alua set --tpg 2 un", "unavailable_");
	check_completion(&t, "/targets/" IQN "/acls", "chap set ", INIT "_");
	check_completion(&t, "/targets/" IQN "/acls", "chap ", "set_ clear_");
	check_completion(&t, "/targets/" IQN, "param set Imm", "ImmediateData_");
	check_completion(&t, "/targets", "delete ", IQN "_");
	check_completion(&t, "/", "help al", "alua_");
	check_completion(&t, "/", "frobnicate ", "");
	tree_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_nodes_and_portals),
		cmocka_unit_test(test_this_node_only),
		cmocka_unit_test(test_relative_commands),
		cmocka_unit_test(test_completion),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
