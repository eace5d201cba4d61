/* SPDX-License-Identifier: Apache-2.0 */
/*
 * names.c - names of the protocol's enumerations (PROTOCOL.md 5.1: channels,
 * vendors, platforms, receipt states; the device states of 5.3, the
 * compaction states of 5.4; audiences, lanes, campaign states, control
 * actions and vendor targets of 5.10 and 5.11; upload kinds of 5.12) and of
 * libherald's return values, as tables
 * indexed by value. Error names (section 6, E_BAD_MAGIC = 1 .. E_STORE = 20)
 * come from net/wire.c's table, shared with the engine. Static data only;
 * any thread.
 */
#include "include/herald.h"

#include <errno.h>
#include <string.h>

#include "net/wire.h"

static const char *const channel_names[HRL_CH_COUNT] = {
	[HRL_CH_PUSH] = "push",
	[HRL_CH_SMS] = "sms",
	[HRL_CH_EMAIL] = "email",
	[HRL_CH_WECHAT] = "wechat",
	[HRL_CH_WEBHOOK] = "webhook",
};

static const char *const vendor_names[HRL_VENDOR_COUNT] = {
	[HRL_VENDOR_NONE] = "none",
	[HRL_VENDOR_APNS] = "apns",
	[HRL_VENDOR_FCM] = "fcm",
	[HRL_VENDOR_HUAWEI] = "huawei",
	[HRL_VENDOR_XIAOMI] = "xiaomi",
	[HRL_VENDOR_OPPO] = "oppo",
	[HRL_VENDOR_VIVO] = "vivo",
	[HRL_VENDOR_HONOR] = "honor",
	[HRL_VENDOR_MEIZU] = "meizu",
};

static const char *const platform_names[HRL_PLATFORM_COUNT] = {
	[HRL_PLATFORM_NONE] = "none",
	[HRL_PLATFORM_ANDROID] = "android",
	[HRL_PLATFORM_IOS] = "ios",
	[HRL_PLATFORM_HARMONY] = "harmony",
	[HRL_PLATFORM_WEB] = "web",
};

/* Value 0 is not a state: a receipt always has one of 1 .. 7. */
static const char *const state_names[HRL_STATE_COUNT] = {
	[HRL_STATE_QUEUED] = "queued",
	[HRL_STATE_SENT] = "sent",
	[HRL_STATE_DELIVERED] = "delivered",
	[HRL_STATE_DISPLAYED] = "displayed",
	[HRL_STATE_CLICKED] = "clicked",
	[HRL_STATE_FAILED] = "failed",
	[HRL_STATE_RECALLED] = "recalled",
};
_Static_assert(HRL_STATE_RECALLED + 1 == HRL_STATE_COUNT, "one name per receipt state");

static const char *const compaction_names[HERALD_COMPACTION_COUNT] = {
	[HERALD_COMPACTION_IDLE] = "idle",
	[HERALD_COMPACTION_REWRITING] = "rewriting",
	[HERALD_COMPACTION_SYNCING] = "syncing",
	[HERALD_COMPACTION_WAIT_DELETE] = "wait_delete",
};
_Static_assert(HERALD_COMPACTION_WAIT_DELETE + 1 == HERALD_COMPACTION_COUNT,
	       "one name per compaction state");
_Static_assert(HRL_E_STORE == 20 && HRL_E_COUNT == HRL_E_STORE + 1,
	       "E_STORE is code 20, the last of protocol v1 (PROTOCOL.md section 6)");

static const char *const device_state_names[HRL_DEVICE_STATE_COUNT] = {
	[HRL_DEVICE_ACTIVE] = "active",
	[HRL_DEVICE_INVALID] = "invalid",
};
_Static_assert(HRL_DEVICE_INVALID + 1 == HRL_DEVICE_STATE_COUNT, "one name per device state");

static const char *const audience_names[HRL_AUD_COUNT] = {
	[HRL_AUD_USER] = "user",
	[HRL_AUD_LIST] = "list",
	[HRL_AUD_TAG] = "tag",
	[HRL_AUD_ALL] = "all",
	[HRL_AUD_UPLOAD] = "upload",
};
_Static_assert(HRL_AUD_UPLOAD + 1 == HRL_AUD_COUNT, "one name per audience");

static const char *const lane_names[HRL_LANE_COUNT] = {
	[HRL_LANE_BULK] = "bulk",
	[HRL_LANE_TRANSACTIONAL] = "transactional",
};
_Static_assert(HRL_LANE_TRANSACTIONAL + 1 == HRL_LANE_COUNT, "one name per lane");

static const char *const campaign_state_names[HRL_CAMPAIGN_STATE_COUNT] = {
	[HRL_CAMPAIGN_RUNNING] = "running",
	[HRL_CAMPAIGN_PAUSED] = "paused",
	[HRL_CAMPAIGN_CANCELLED] = "cancelled",
	[HRL_CAMPAIGN_DONE] = "done",
};
_Static_assert(HRL_CAMPAIGN_DONE + 1 == HRL_CAMPAIGN_STATE_COUNT, "one name per campaign state");

static const char *const control_names[HRL_CONTROL_COUNT] = {
	[HRL_CONTROL_PAUSE] = "pause",
	[HRL_CONTROL_RESUME] = "resume",
	[HRL_CONTROL_CANCEL] = "cancel",
};
_Static_assert(HRL_CONTROL_CANCEL + 1 == HRL_CONTROL_COUNT, "one name per control action");

static const char *const target_names[HRL_TARGET_COUNT] = {
	[HRL_TARGET_HUAWEI] = "huawei",
	[HRL_TARGET_XIAOMI] = "xiaomi",
	[HRL_TARGET_OPPO] = "oppo",
	[HRL_TARGET_VIVO] = "vivo",
	[HRL_TARGET_SMS] = "sms",
	[HRL_TARGET_WEBHOOK] = "webhook",
};
_Static_assert(HRL_TARGET_WEBHOOK + 1 == HRL_TARGET_COUNT, "one name per vendor target");

/* Value 0 is not a kind. The CLI's --upload-kind words, not the protocol's prose. */
static const char *const upload_kind_names[HRL_UPLOAD_KIND_COUNT] = {
	[HRL_UPLOAD_USER_IDS] = "users",
	[HRL_UPLOAD_PHONES] = "phones",
};
_Static_assert(HRL_UPLOAD_PHONES + 1 == HRL_UPLOAD_KIND_COUNT, "one name per upload kind");

static const char *name_of(const char *const *table, unsigned count, unsigned v)
{
	return v < count ? table[v] : NULL;
}

static int parse_name(const char *const *table, unsigned count, const char *name)
{
	for (unsigned v = 0; v < count; v++)
		if (table[v] && strcmp(table[v], name) == 0)
			return (int)v;
	return -EINVAL;
}

const char *herald_channel_name(unsigned v)
{
	return name_of(channel_names, HRL_CH_COUNT, v);
}

const char *herald_vendor_name(unsigned v)
{
	return name_of(vendor_names, HRL_VENDOR_COUNT, v);
}

const char *herald_platform_name(unsigned v)
{
	return name_of(platform_names, HRL_PLATFORM_COUNT, v);
}

const char *herald_compaction_name(unsigned v)
{
	return name_of(compaction_names, HERALD_COMPACTION_COUNT, v);
}

const char *herald_state_name(unsigned v)
{
	return name_of(state_names, HRL_STATE_COUNT, v);
}

int herald_state_parse(const char *name)
{
	return parse_name(state_names, HRL_STATE_COUNT, name);
}

int herald_channel_parse(const char *name)
{
	return parse_name(channel_names, HRL_CH_COUNT, name);
}

int herald_vendor_parse(const char *name)
{
	return parse_name(vendor_names, HRL_VENDOR_COUNT, name);
}

int herald_platform_parse(const char *name)
{
	return parse_name(platform_names, HRL_PLATFORM_COUNT, name);
}

const char *herald_device_state_name(unsigned v)
{
	return name_of(device_state_names, HRL_DEVICE_STATE_COUNT, v);
}

const char *herald_audience_name(unsigned v)
{
	return name_of(audience_names, HRL_AUD_COUNT, v);
}

int herald_audience_parse(const char *name)
{
	return parse_name(audience_names, HRL_AUD_COUNT, name);
}

const char *herald_lane_name(unsigned v)
{
	return name_of(lane_names, HRL_LANE_COUNT, v);
}

int herald_lane_parse(const char *name)
{
	return parse_name(lane_names, HRL_LANE_COUNT, name);
}

const char *herald_campaign_state_name(unsigned v)
{
	return name_of(campaign_state_names, HRL_CAMPAIGN_STATE_COUNT, v);
}

const char *herald_control_name(unsigned v)
{
	return name_of(control_names, HRL_CONTROL_COUNT, v);
}

int herald_control_parse(const char *name)
{
	return parse_name(control_names, HRL_CONTROL_COUNT, name);
}

const char *herald_target_name(unsigned v)
{
	return name_of(target_names, HRL_TARGET_COUNT, v);
}

int herald_target_parse(const char *name)
{
	return parse_name(target_names, HRL_TARGET_COUNT, name);
}

const char *herald_upload_kind_name(unsigned v)
{
	return name_of(upload_kind_names, HRL_UPLOAD_KIND_COUNT, v);
}

int herald_upload_kind_parse(const char *name)
{
	return parse_name(upload_kind_names, HRL_UPLOAD_KIND_COUNT, name);
}

const char *herald_err_name(int code)
{
	return net_err_name(code);
}

const char *herald_strerror(int rc)
{
	if (rc == 0)
		return "OK";
	if (rc > 0)
		return net_err_name(rc);
	return strerror(-rc);
}
