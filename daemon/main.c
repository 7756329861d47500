/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "policy_engine.h"
#include "bpf_loader.h"
#include "plugin_host.h"

#define DEFAULT_STATE_DIR   "/var/lib/vigil"
#define DEFAULT_RUNTIME_DIR "/run/vigil"

static const char *arg_config_dir;
static const char *arg_plugin_dir = PLUGINDIR;
static bool arg_validate;
static bool arg_cat_config;
static bool arg_debug;

static void help(void)
{
	printf("Usage: vigild [OPTIONS]\n\n"
	       "Linux security observability daemon: BPF process sensor, enrichment, plugin "
	       "outputs.\n\n"
	       "  --config-dir DIR   Read vigild.conf, vigild.conf.d/, outputs.d/ and policy.d/ "
	       "from DIR\n"
	       "                     instead of /etc, /run, /usr/local/lib and /usr/lib (each + "
	       "/vigil)\n"
	       "  --plugin-dir DIR   Load plugins from DIR (default %s)\n"
	       "  --validate         Check the configuration and exit (non-zero on any warning)\n"
	       "  --cat-config       Print the merged configuration files and exit\n"
	       "  -v, --verbose      Debug logging (includes libbpf's messages)\n"
	       "  --version          Print the version and exit\n"
	       "  -h, --help         Show this help\n\n"
	       "See vigild(8) and vigild.conf(5).\n",
	       PLUGINDIR);
}

/* Returns 1 to continue, 0 to exit successfully, -EINVAL on bad usage. */
static int parse_argv(int argc, char *argv[])
{
	enum { ARG_CONFIG_DIR = 0x100, ARG_PLUGIN_DIR, ARG_VALIDATE, ARG_CAT_CONFIG, ARG_VERSION };
	static const struct option options[] = {
		{"config-dir", required_argument, NULL, ARG_CONFIG_DIR},
		{"plugin-dir", required_argument, NULL, ARG_PLUGIN_DIR},
		{"validate", no_argument, NULL, ARG_VALIDATE},
		{"cat-config", no_argument, NULL, ARG_CAT_CONFIG},
		{"verbose", no_argument, NULL, 'v'},
		{"version", no_argument, NULL, ARG_VERSION},
		{"help", no_argument, NULL, 'h'},
		{}};
	int c;

	while ((c = getopt_long(argc, argv, "vh", options, NULL)) >= 0) {
		switch (c) {
		case ARG_CONFIG_DIR:
			arg_config_dir = optarg;
			break;
		case ARG_PLUGIN_DIR:
			arg_plugin_dir = optarg;
			break;
		case ARG_VALIDATE:
			arg_validate = true;
			break;
		case ARG_CAT_CONFIG:
			arg_cat_config = true;
			break;
		case 'v':
			arg_debug = true;
			break;
		case ARG_VERSION:
			printf("vigild %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			help();
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_error("Unexpected argument '%s'. See --help.", argv[optind]);
		return -EINVAL;
	}
	return 1;
}

/* $STATE_DIRECTORY may hold several ':'-separated paths (systemd.exec(5)); we use the first. */
static char *first_dir(const char *env, const char *fallback)
{
	const char *v = getenv(env);

	if (isempty(v))
		return strdup(fallback);
	return strndup(v, strcspn(v, ":"));
}

/*
 * Parse every policy; compile them against this kernel's tracepoints when tracefs is readable
 * (as root), which catches unknown tracepoints and argument/field mismatches too.
 */
static unsigned validate_policies(const char *dir_list)
{
	_cleanup_(policy_set_freep) struct policy_set *set = NULL;
	struct policy_env env;
	unsigned failed;
	int r;

	r = policy_set_load(dir_list, &set);
	if (r < 0)
		return 1;
	(void)bpf_ensure_fs_mounts();
	r = policy_env_probe(&env);
	if (r < 0 || access(env.tracefs, R_OK | X_OK) < 0) {
		log_notice("tracefs is not readable: policies were parsed but not checked against "
			   "this kernel's tracepoints (run as root for the full check).");
		return set->n_errors;
	}
	failed = policy_validate_set(set, &env);
	if (failed == 0 && set->n_policies > 0)
		log_info("%zu policies OK.", set->n_policies);
	return failed;
}

static int run(int argc, char *argv[])
{
	_cleanup_free_ char *state_dir = NULL, *runtime_dir = NULL;
	_cleanup_(manager_freep) struct manager *m = NULL;
	struct config_source src = {};
	struct vigil_config *cfg = NULL;
	struct manager_options mo;
	sigset_t mask;
	int r;

	log_setup();
	r = parse_argv(argc, argv);
	if (r <= 0)
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	if (arg_debug)
		log_set_max_level(LOG_DEBUG);
	log_setup_libbpf();

	src.config_dir = arg_config_dir;
	if (arg_cat_config)
		return config_cat(&src, stdout) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

	r = config_load(&src, &cfg);
	if (r == -EINVAL)
		return EX_CONFIG_STATUS;
	if (r < 0)
		return EXIT_FAILURE;
	if (arg_validate) {
		struct plugin_host_options pho = {
			.plugin_dir = arg_plugin_dir,
			.node_name = cfg->node_name,
			.check_owner = true, /* as the daemon would load them */
		};
		unsigned warnings = cfg->n_warnings, plugin_warnings = 0, policy_errors;

		/* Outputs too: their plugins and filters load, and their sections are checked. */
		r = plugin_host_validate(&pho, cfg->outputs, cfg->n_outputs, &plugin_warnings);
		policy_errors = validate_policies(cfg->policy_dir_list);
		config_free(cfg);
		if (policy_errors > 0) {
			log_error("%u policy document(s) failed validation.", policy_errors);
			return EX_CONFIG_STATUS;
		}
		warnings += plugin_warnings;
		if (r == -EINVAL)
			return EX_CONFIG_STATUS;
		if (r < 0)
			return EXIT_FAILURE;
		if (warnings > 0) {
			log_error("Configuration has %u warning(s).", warnings);
			return EXIT_FAILURE;
		}
		printf("Configuration OK.\n");
		return EXIT_SUCCESS;
	}

	/* Block the signals sd-event handles before any output thread starts. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		config_free(cfg);
		return log_error_errno(errno, "Failed to block signals: %m"), EXIT_FAILURE;
	}

	state_dir = first_dir("STATE_DIRECTORY", DEFAULT_STATE_DIR);
	runtime_dir = first_dir("RUNTIME_DIRECTORY", DEFAULT_RUNTIME_DIR);
	if (!state_dir || !runtime_dir) {
		config_free(cfg);
		return log_oom(), EXIT_FAILURE;
	}

	mo = (struct manager_options){
		.config_dir = arg_config_dir,
		.plugin_dir = arg_plugin_dir,
		.state_dir = state_dir,
		.runtime_dir = runtime_dir,
		.debug = arg_debug,
	};
	r = manager_new(cfg, &mo, &m);
	if (r == -EINVAL)
		return EX_CONFIG_STATUS;
	if (r < 0)
		return EXIT_FAILURE;

	r = manager_run(m);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[])
{
	return run(argc, argv);
}
