/*
 * libFuzzer target: a QMP session. The input is the byte stream a client sends; each
 * message it holds goes through what tide's server does with it (json-c, the text check
 * for what json-c reads wrongly, the engine with tide's command table) against a fake
 * machine with two memory devices. The first byte says whether capabilities are
 * negotiated already.
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "vmm/machine.h"
#include "devices/memory_device.h"
#include "vmm/qmp.h"
#include "vmm/qmp_commands.h"

struct fake_device {
	struct memory_device md;
	struct memory_device_status st;
};

static void fake_status(void *opaque, struct memory_device_status *out)
{
	*out = ((struct fake_device *)opaque)->st;
}

/* As virtio-mem checks it: a block multiple up to the device size. */
static int fake_set(void *opaque, uint64_t size, struct error *err)
{
	struct fake_device *f = opaque;

	if (size % f->st.block_size || size > f->st.max_size)
		return error_set(err, "bad requested-size");
	f->st.requested_size = size;
	return 0;
}

static void fake_debug(void *opaque, struct json_object *obj)
{
	(void)opaque;
	json_object_object_add(obj, "counters", json_object_new_object());
}

static const struct memory_device_ops fake_ops = {
	.type = "virtio-mem",
	.qom_type = "virtio-mem-pci",
	.status = fake_status,
	.set_requested_size = fake_set,
	.debug_info = fake_debug,
};

static struct machine machine;
static struct vm_config cfg;
static struct fake_device devices[2];
static struct qmp_engine engine;

static void add_device(struct fake_device *f, const char *id, uint64_t memaddr)
{
	f->st = (struct memory_device_status){ .memaddr = memaddr, .max_size = 1ULL << 30,
					       .block_size = 2ULL << 20 };
	f->md = (struct memory_device){ .ops = &fake_ops, .opaque = f, .id = id, .memdev = "m" };
	machine_add_memory_device(&machine, &f->md);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	if (run_state_init(&machine.rs, NULL))
		abort();
	cfg.ram_size = 256ULL << 20;
	cfg.name = "fuzz";
	machine.cfg = &cfg;
	machine.vm_fd = -1;
	add_device(&devices[0], "vm0", 4ULL << 30);
	add_device(&devices[1], NULL, 5ULL << 30);
	machine_set_current(&machine);
	qmp_commands_engine(&engine, &cfg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_session session = { .command_mode = size && (data[0] & 1) };
	json_tokener *tok = json_tokener_new();
	const char *text = (const char *)data;
	size_t start = 0, pos = 0;

	/* A quit or reset from the last input is over: the machine runs again. */
	atomic_store(&machine.rs.stop, MACHINE_RUNNING);
	if (size)
		text++, size--;
	while (pos < size) {
		struct json_object *msg = json_tokener_parse_ex(tok, text + pos, (int)(size - pos));
		enum json_tokener_error jerr = json_tokener_get_error(tok);
		size_t used = jerr == json_tokener_continue ? size - pos
							     : json_tokener_get_parse_end(tok);
		char why[96], *reply;

		pos += used ? used : 1;
		if (jerr == json_tokener_continue)
			break;
		json_tokener_reset(tok);
		if (jerr == json_tokener_success &&
		    qmp_text_unsupported(text + start, pos - start, why, sizeof(why)))
			reply = qmp_handle(&engine, &session, NULL, why);
		else
			reply = qmp_handle(&engine, &session, msg,
					   jerr == json_tokener_success ? NULL
									: json_tokener_error_desc(jerr));
		json_object_put(msg);
		free(reply);
		start = pos;
	}
	json_tokener_free(tok);
	return 0;
}
