/*
 * The options a management stack passes, libvirt's in particular (docs/libvirt.md): how
 * the process runs (-daemonize, -pidfile, -S), and QEMU options that ask for what tide
 * already is (-no-acpi, -display none, -rtc base=utc, ...). Each takes exactly the values
 * that are true of tide and refuses the rest with a clear error.
 */
#include <ctype.h>
#include <json-c/json.h>
#include <string.h>

#include "util/log.h"
#include "util/opts.h"
#include "util/util.h"
#include "vmm/cmdline_internal.h"
#include "vmm/cmdline_machine.h"

/* An option whose every key must have one accepted value: KEY=VALUE pairs, NULL-ended. */
struct accepted_value {
	const char *key, *value, *why;
};

static int take_only(const char *option, const char *arg, const char *implied,
		     const struct accepted_value *accepted, struct error *err)
{
	struct opts opts;
	int ret = -1;

	if (opts_parse(&opts, option, arg, implied, err))
		return -1;
	for (const struct accepted_value *a = accepted; a->key; a++) {
		const char *v = opts_take(&opts, a->key);

		if (v && strcmp(v, a->value)) {
			error_set(err, "%s: %s=%s is not supported: %s (%s=%s)", option, a->key, v,
				  a->why, a->key, a->value);
			goto out;
		}
	}
	ret = opts_finish(&opts, option, err);
out:
	opts_free(&opts);
	return ret;
}

static int set_flag(bool *flag)
{
	*flag = true;
	return 0;
}

static int opt_daemonize(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg, (void)err;
	return set_flag(&st->cfg->daemonize);
}

static int opt_pidfile(struct cmdline_state *st, const char *arg, struct error *err)
{
	if (!*arg)
		return error_set(err, "-pidfile: empty file name");
	st->cfg->pidfile = arg;
	return 0;
}

static int opt_start_paused(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg, (void)err;
	return set_flag(&st->cfg->start_paused);
}

static int opt_no_shutdown(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg, (void)err;
	return set_flag(&st->cfg->no_shutdown);
}

static int opt_nodefaults(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)arg, (void)err;
	return set_flag(&st->cfg->nodefaults);
}

/* An option that asks for what tide already is (its help says what). */
static int opt_accepted(struct cmdline_state *st, const char *arg, struct error *err)
{
	(void)st, (void)arg, (void)err;
	return 0;
}

/* -uuid: 8-4-4-4-12 hexadecimal digits, as QEMU checks them. */
static int opt_uuid(struct cmdline_state *st, const char *arg, struct error *err)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	bool ok = strlen(arg) == sizeof(shape) - 1;

	for (size_t i = 0; ok && arg[i]; i++)
		ok = shape[i] == '-' ? arg[i] == '-' : isxdigit((unsigned char)arg[i]);
	if (!ok)
		return error_set(err, "-uuid: '%s' is not a UUID (8-4-4-4-12 hexadecimal digits)",
				 arg);
	memcpy(st->cfg->uuid, arg, sizeof(shape));
	return 0;
}

static int opt_display(struct cmdline_state *st, const char *arg, struct error *err)
{
	static const struct accepted_value values[] = {
		{ "type", "none", "tide has no display" }, { NULL, NULL, NULL }
	};

	(void)st;
	return take_only("-display", arg, "type", values, err);
}

/* The guest reads time from kvmclock, which follows the host's clock: UTC. */
static int opt_rtc(struct cmdline_state *st, const char *arg, struct error *err)
{
	static const struct accepted_value values[] = {
		{ "base", "utc", "the guest's clock follows the host's" }, { NULL, NULL, NULL }
	};

	(void)st;
	return take_only("-rtc", arg, NULL, values, err);
}

/* Tide boots the -kernel it is given: there is no boot order, strict or not. */
static int opt_boot(struct cmdline_state *st, const char *arg, struct error *err)
{
	static const struct accepted_value values[] = {
		{ "strict", "on", "tide boots only its -kernel" }, { NULL, NULL, NULL }
	};

	(void)st;
	return take_only("-boot", arg, NULL, values, err);
}

static int opt_overcommit(struct cmdline_state *st, const char *arg, struct error *err)
{
	static const struct accepted_value values[] = {
		{ "mem-lock", "off", "tide does not lock guest memory" },
		{ "cpu-pm", "off", "tide does not give the guest the host's CPU power management" },
		{ NULL, NULL, NULL }
	};

	(void)st;
	return take_only("-overcommit", arg, NULL, values, err);
}

/* driver=none and an id, as keys or as JSON (libvirt writes {"id": ..., "driver": "none"}). */
static int check_audiodev(const char *driver, bool has_id, struct error *err)
{
	if (!has_id)
		return error_set(err, "-audiodev: needs id=ID");
	if (!driver || strcmp(driver, "none"))
		return error_set(err, "-audiodev: driver=%s is not supported: tide has no sound "
				      "device (driver=none)",
				 driver ? driver : "");
	return 0;
}

static int audiodev_json(const char *arg, struct error *err)
{
	struct json_object *o = json_tokener_parse(arg), *driver = NULL, *id = NULL;
	int ret = -1;

	if (!o || !json_object_is_type(o, json_type_object)) {
		error_set(err, "-audiodev: '%s' is not a JSON object", arg);
		goto out;
	}
	json_object_object_foreach(o, key, value)
	{
		(void)value;
		if (strcmp(key, "driver") && strcmp(key, "id")) {
			error_set(err, "-audiodev: '%s' is not supported with driver=none", key);
			goto out;
		}
	}
	json_object_object_get_ex(o, "driver", &driver);
	json_object_object_get_ex(o, "id", &id);
	if (driver && !json_object_is_type(driver, json_type_string)) {
		error_set(err, "-audiodev: driver must be a string");
		goto out;
	}
	ret = check_audiodev(driver ? json_object_get_string(driver) : NULL,
			     id && json_object_is_type(id, json_type_string), err);
out:
	json_object_put(o);
	return ret;
}

static int opt_audiodev(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct opts opts;
	const char *driver, *id;
	int ret = -1;

	(void)st;
	if (arg[0] == '{')
		return audiodev_json(arg, err);
	if (opts_parse(&opts, "-audiodev", arg, "driver", err))
		return -1;
	driver = opts_take(&opts, "driver");
	id = opts_take(&opts, "id"); /* the backend's name: nothing in tide refers to it */
	if (!check_audiodev(driver, id != NULL, err))
		ret = opts_finish(&opts, "-audiodev", err);
	opts_free(&opts);
	return ret;
}

/* Error messages carry a timestamp with timestamp=on, as QEMU's do. */
static int opt_msg(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct opts opts;
	bool timestamp = false;
	int ret = -1;

	(void)st;
	if (opts_parse(&opts, "-msg", arg, NULL, err))
		return -1;
	if (!opts_take_bool(&opts, "timestamp", &timestamp, false, err) &&
	    !opts_finish(&opts, "-msg (timestamp= is supported)", err)) {
		log_timestamps = timestamp;
		ret = 0;
	}
	opts_free(&opts);
	return ret;
}

/* -accel kvm: the same as -machine accel=kvm. */
static int opt_accel(struct cmdline_state *st, const char *arg, struct error *err)
{
	struct opts opts;
	const char *accel;
	int ret = -1;

	if (opts_parse(&opts, "-accel", arg, "accel", err))
		return -1;
	accel = opts_take(&opts, "accel");
	if (!opts_finish(&opts, "-accel", err)) {
		ret = cmdline_parse_accel(st->cfg, accel ? accel : "", err);
		if (ret)
			error_prefix(err, "-accel");
	}
	opts_free(&opts);
	return ret;
}

static const struct cmdline_option options[] = {
	{ "daemonize", NULL, "detach once the QMP socket listens (and the -pidfile is written)",
	  opt_daemonize },
	{ "pidfile", "PATH", "write tide's process id there", opt_pidfile },
	{ "S", NULL, "start with the vCPUs stopped (QMP's cont starts them)", opt_start_paused },
	{ "no-shutdown", NULL, "a guest's poweroff stops the VM instead of ending tide",
	  opt_no_shutdown },
	{ "nodefaults", NULL, "no serial port unless -serial or -device isa-serial asks",
	  opt_nodefaults },
	{ "no-user-config", NULL, "accepted (tide reads no configuration file)", opt_accepted },
	{ "no-acpi", NULL, "accepted (tide's PC has no ACPI tables)", opt_accepted },
	{ "uuid", "UUID", "the VM's UUID (QMP query-uuid)", opt_uuid },
	{ "display", "none", "accepted (tide has no display)", opt_display },
	{ "rtc", "base=utc", "accepted (the guest's clock follows the host's)", opt_rtc },
	{ "boot", "strict=on", "accepted (tide boots its -kernel)", opt_boot },
	{ "overcommit", "mem-lock=off[,cpu-pm=off]", "accepted (what tide does)", opt_overcommit },
	{ "audiodev", "[driver=]none,id=ID", "accepted (tide has no sound device)", opt_audiodev },
	{ "msg", "timestamp=on|off", "time-stamp tide's messages", opt_msg },
	{ "accel", "kvm", "the accelerator (KVM only)", opt_accel },
};

const struct cmdline_table cmdline_management_table = { options, ARRAY_SIZE(options) };
