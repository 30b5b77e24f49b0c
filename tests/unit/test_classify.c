/*
 * test_classify.c - loop-protection classifier: every class and the tricky
 * cases, from hand-written fixtures in tests/unit/fixtures/classify parsed
 * by the real mime_parse, plus in-memory variants of them for the tables.
 * Run from the repository root.
 */
#include "classify.h"
#include "mime.h"
#include "test.h"

#include <glib.h>
#include <string.h>

#define FIXDIR "tests/unit/fixtures/classify/"

static const char *const own_addrs[] = {"support@example.com",
                                        "help@example.com", NULL};

static const struct classify_opts opts = {
    .own_domain = "support.example.com",
    .loop_header = "X-Tickd-Loop",
    .loop_value = "tickd-test-1",
    .own_addresses = own_addrs,
};

/* load - the raw fixture bytes (g_free), or NULL with a failed check. */
static char *
load(const char *name, gsize *len)
{
	char *path = g_strconcat(FIXDIR, name, NULL), *raw = NULL;
	bool ok = g_file_get_contents(path, &raw, len, NULL);

	TEST_CHECK(ok);
	if (!ok)
		fprintf(stderr, "  cannot read %s\n", path);
	g_free(path);
	return ok ? raw : NULL;
}

/* replace - raw with the first `from` replaced by `to` (g_free). */
static char *
replace(const char *raw, const char *from, const char *to)
{
	const char *hit = strstr(raw, from);

	TEST_CHECK(hit != NULL);
	if (hit == NULL)
		return g_strdup(raw);
	return g_strdup_printf("%.*s%s%s", (int)(hit - raw), raw, to,
	                       hit + strlen(from));
}

/* classify_raw - parse and classify; res must be cleared by the caller. */
static void
classify_raw(const char *raw, size_t len, const struct classify_opts *o,
             struct classify_result *res)
{
	struct mime_msg *m = mime_parse(raw, len, NULL);

	classify_msg(m, o, res);
	mime_msg_free(&m);
	TEST_CHECK(m == NULL);
}

static enum classify_class
classify_file(const char *name, const struct classify_opts *o,
              struct classify_result *res)
{
	gsize len = 0;
	char *raw = load(name, &len);

	if (raw == NULL) {
		memset(res, 0, sizeof(*res));
		res->cls = CLASSIFY__COUNT;
		return res->cls;
	}
	classify_raw(raw, len, o, res);
	g_free(raw);
	return res->cls;
}

/* class_of_str - class of an in-memory mail; the reason goes to stderr on
 * a mismatch so a failing table row says why. */
static enum classify_class
class_of_str(const char *raw, const struct classify_opts *o)
{
	struct classify_result res;
	enum classify_class c;

	classify_raw(raw, strlen(raw), o, &res);
	c = res.cls;
	classify_result_clear(&res);
	return c;
}

#define EXPECT_CLASS(file, cls_want, res)                                      \
	do {                                                                   \
		classify_file(file, &opts, res);                               \
		TEST_STREQ(classify_name((res)->cls),                          \
		           classify_name(cls_want));                           \
	} while (0)

/* ------------------------------------------------------------------ */

static void
test_human_plain(void)
{
	struct classify_result r;

	EXPECT_CLASS("human_plain.eml", CLASSIFY_HUMAN, &r);
	TEST_STREQ(r.reason, "no machine signal");
	TEST_CHECK(r.bounce_recipient == NULL);
	TEST_CHECK(r.bounce_status == NULL);
	TEST_CHECK(r.original_message_id == NULL);
	TEST_CHECK(!classify_is_machine(r.cls));
	classify_result_clear(&r);
}

static void
test_auto_submitted_no(void)
{
	struct classify_result r;

	/* RFC 3834 "no" (odd case and blanks) marks a person; RT counts it
	 * as automatic. */
	EXPECT_CLASS("auto_submitted_no.eml", CLASSIFY_HUMAN, &r);
	classify_result_clear(&r);
}

static void
test_auto_submitted_vacation(void)
{
	struct classify_result r;

	EXPECT_CLASS("auto_submitted_vacation.eml", CLASSIFY_AUTO_REPLY, &r);
	TEST_STREQ(r.reason, "Auto-Submitted: auto-replied (vacation)");
	TEST_CHECK(r.bounce_recipient == NULL);
	TEST_CHECK(classify_is_machine(r.cls));
	classify_result_clear(&r);
}

static void
test_auto_submitted_folded(void)
{
	struct classify_result r;

	/* A first "no" must not hide a later, folded, upper-case header. */
	EXPECT_CLASS("auto_submitted_folded.eml", CLASSIFY_AUTO_REPLY, &r);
	TEST_CHECK(
	    g_str_has_prefix(r.reason, "Auto-Submitted: Auto-Generated"));
	classify_result_clear(&r);
}

static void
test_auto_submitted_values(void)
{
	static const struct {
		const char *value;
		enum classify_class want;
	} rows[] = {
	    {"no", CLASSIFY_HUMAN},
	    {"NO", CLASSIFY_HUMAN},
	    {"no; reason=manual", CLASSIFY_HUMAN},
	    {"no (typed by a person)", CLASSIFY_HUMAN},
	    {"auto-replied", CLASSIFY_AUTO_REPLY},
	    {"auto-generated", CLASSIFY_AUTO_REPLY},
	    {"auto-notified; owner-email=x@y.example", CLASSIFY_AUTO_REPLY},
	    {"yes", CLASSIFY_AUTO_REPLY},
	    {"nope", CLASSIFY_AUTO_REPLY},
	    {"", CLASSIFY_AUTO_REPLY},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = g_strdup_printf(
		    "From: a@customer.example\nTo: support@example.com\n"
		    "Subject: hello\nAuto-Submitted: %s\n\nbody\n",
		    rows[i].value);
		enum classify_class c = class_of_str(raw, &opts);

		if (c != rows[i].want)
			fprintf(stderr, "  Auto-Submitted: '%s'\n",
			        rows[i].value);
		TEST_STREQ(classify_name(c), classify_name(rows[i].want));
		g_free(raw);
	}
}

static void
test_autoreply_headers(void)
{
	static const struct {
		const char *header;
		enum classify_class want;
	} rows[] = {
	    {"X-Autoreply: yes", CLASSIFY_AUTO_REPLY},
	    {"X-Autoreply: no", CLASSIFY_HUMAN},
	    {"X-Autorespond: vacation", CLASSIFY_AUTO_REPLY},
	    {"X-Autoresponse: 1", CLASSIFY_AUTO_REPLY},
	    {"X-AutoReply-From: a@customer.example", CLASSIFY_AUTO_REPLY},
	    {"X-Mail-Autoreply: yes", CLASSIFY_AUTO_REPLY},
	    {"Precedence: auto_reply", CLASSIFY_AUTO_REPLY},
	    {"X-Precedence: auto_reply", CLASSIFY_AUTO_REPLY},
	    {"X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",
	     CLASSIFY_AUTO_REPLY},
	    {"X-MS-Exchange-Inbox-Rules-Loop: a@customer.example",
	     CLASSIFY_AUTO_REPLY},
	    {"X-AMAZON-MAIL-RELAY-TYPE: notification", CLASSIFY_AUTO_REPLY},
	    {"X-AMAZON-MAIL-RELAY-TYPE: standard", CLASSIFY_HUMAN},
	    /* a request not to answer, not a sign of being automatic */
	    {"X-Auto-Response-Suppress: All", CLASSIFY_HUMAN},
	    {"X-MS-Exchange-Transport-Rules-Loop: 1", CLASSIFY_HUMAN},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = g_strdup_printf(
		    "From: a@customer.example\nTo: support@example.com\n"
		    "Subject: hello\n%s\n\nbody\n",
		    rows[i].header);
		enum classify_class c = class_of_str(raw, &opts);

		if (c != rows[i].want)
			fprintf(stderr, "  header '%s'\n", rows[i].header);
		TEST_STREQ(classify_name(c), classify_name(rows[i].want));
		g_free(raw);
	}
}

static void
test_ooo_subject_only(void)
{
	struct classify_result r;

	EXPECT_CLASS("ooo_subject_only.eml", CLASSIFY_AUTO_REPLY, &r);
	TEST_STREQ(r.reason, "out-of-office subject \"abwesenheitsnotiz\"");
	classify_result_clear(&r);
}

static void
test_ooo_exchange_not_bounce(void)
{
	struct classify_result r;

	/* Null Return-Path plus "delivery failed" echoed from the original
	 * subject: still an auto-reply, not an NDR. */
	EXPECT_CLASS("ooo_exchange.eml", CLASSIFY_AUTO_REPLY, &r);
	TEST_CHECK(
	    g_str_has_prefix(r.reason, "X-MS-Exchange-Inbox-Rules-Loop: "));
	TEST_CHECK(r.bounce_recipient == NULL);
	classify_result_clear(&r);
}

static void
test_ooo_subjects(void)
{
	static const struct {
		const char *subject;
		enum classify_class want;
	} rows[] = {
	    {"Automatic reply: [#12] printer", CLASSIFY_AUTO_REPLY},
	    {"AUTOMATIC REPLY: x", CLASSIFY_AUTO_REPLY},
	    {"Out of Office: x", CLASSIFY_AUTO_REPLY},
	    {"Out of Office AutoReply: x", CLASSIFY_AUTO_REPLY},
	    {"Out of office", CLASSIFY_AUTO_REPLY},
	    {"Auto reply: x", CLASSIFY_AUTO_REPLY},
	    {"Autoreply: x", CLASSIFY_AUTO_REPLY},
	    {"Away from the office until Monday", CLASSIFY_AUTO_REPLY},
	    {"John Smith is out of the office.", CLASSIFY_AUTO_REPLY},
	    {"[EXTERNAL] Automatic reply: x", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?Q?Automatische_Antwort:_x?=", CLASSIFY_AUTO_REPLY},
	    {"Abwesenheitsnotiz: x", CLASSIFY_AUTO_REPLY},
	    {"Abwesenheit", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?Q?R=C3=A9ponse_automatique_:_x?=", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?Q?R=C3=89PONSE_AUTOMATIQUE:_x?=", CLASSIFY_AUTO_REPLY},
	    {"Absence", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?Q?Respuesta_autom=C3=A1tica:_x?=", CLASSIFY_AUTO_REPLY},
	    {"Fuera de la oficina", CLASSIFY_AUTO_REPLY},
	    {"Automatisch antwoord: x", CLASSIFY_AUTO_REPLY},
	    {"Afwezig", CLASSIFY_AUTO_REPLY},
	    {"Risposta automatica: x", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?Q?Resposta_autom=C3=A1tica:_x?=", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?Q?Fr=C3=A5nvaro:_x?=", CLASSIFY_AUTO_REPLY},
	    {"Autosvar: x", CLASSIFY_AUTO_REPLY},
	    {"=?utf-8?B?6Ieq5YuV5b+c562UOiB4?=", CLASSIFY_AUTO_REPLY},
	    /* persons writing about auto-replies stay human */
	    {"Out of office replies are not sent", CLASSIFY_HUMAN},
	    {"Auto reply not working", CLASSIFY_HUMAN},
	    {"Autoreplies do not work", CLASSIFY_HUMAN},
	    {"=?utf-8?Q?Absence_de_r=C3=A9ponse_=C3=A0_mon_ticket?=",
	     CLASSIFY_HUMAN},
	    {"Re: Automatic reply settings", CLASSIFY_HUMAN},
	    {"My colleague is out of the office, please help", CLASSIFY_HUMAN},
	    {"Vacation request for June", CLASSIFY_HUMAN},
	    {"Question about automatic replies", CLASSIFY_HUMAN},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = g_strdup_printf(
		    "From: a@customer.example\nTo: support@example.com\n"
		    "Subject: %s\nMIME-Version: 1.0\n"
		    "Content-Type: text/plain; charset=utf-8\n\nbody\n",
		    rows[i].subject);
		enum classify_class c = class_of_str(raw, &opts);

		if (c != rows[i].want)
			fprintf(stderr, "  subject '%s'\n", rows[i].subject);
		TEST_STREQ(classify_name(c), classify_name(rows[i].want));
		g_free(raw);
	}
}

static void
test_precedence_bulk(void)
{
	struct classify_result r;

	EXPECT_CLASS("precedence_bulk.eml", CLASSIFY_LIST, &r);
	TEST_STREQ(r.reason, "Precedence: BULK");
	classify_result_clear(&r);
}

static void
test_list_mailman(void)
{
	struct classify_result r;

	EXPECT_CLASS("list_mailman.eml", CLASSIFY_LIST, &r);
	TEST_STREQ(r.reason, "X-BeenThere: dev@lists.example.org");
	classify_result_clear(&r);
}

static void
test_list_sender_owner(void)
{
	struct classify_result r;

	EXPECT_CLASS("list_sender_owner.eml", CLASSIFY_LIST, &r);
	TEST_STREQ(r.reason, "Return-Path: <owner-isp@lists.example.org>");
	classify_result_clear(&r);
}

static void
test_list_headers(void)
{
	static const struct {
		const char *header;
		enum classify_class want;
	} rows[] = {
	    {"List-Id: <x.lists.example.org>", CLASSIFY_LIST},
	    {"List-Unsubscribe: <mailto:u@news.example>", CLASSIFY_LIST},
	    {"List-Post: <mailto:x@lists.example.org>", CLASSIFY_LIST},
	    {"Mailing-List: contact x-help@lists.example.org", CLASSIFY_LIST},
	    {"X-Mailing-List: <x@lists.example.org>", CLASSIFY_LIST},
	    {"X-Mailman-Version: 3.3.9", CLASSIFY_LIST},
	    {"Precedence: list", CLASSIFY_LIST},
	    {"Precedence: junk", CLASSIFY_LIST},
	    {"Precedence: first-class", CLASSIFY_HUMAN},
	    {"Sender: x-bounces@lists.example.org", CLASSIFY_LIST},
	    {"Sender: Owner <x-request@lists.example.org>", CLASSIFY_LIST},
	    {"Sender: owner@customer.example", CLASSIFY_HUMAN},
	    {"Sender: Assistant <assist@customer.example>", CLASSIFY_HUMAN},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = g_strdup_printf(
		    "From: a@customer.example\nTo: support@example.com\n"
		    "Subject: hello\n%s\n\nbody\n",
		    rows[i].header);
		enum classify_class c = class_of_str(raw, &opts);

		if (c != rows[i].want)
			fprintf(stderr, "  header '%s'\n", rows[i].header);
		TEST_STREQ(classify_name(c), classify_name(rows[i].want));
		g_free(raw);
	}
}

static void
test_dsn_failed(void)
{
	struct classify_result r;

	/* Failed recipient listed after a delivered one; Auto-Submitted
	 * must not win over the report structure. */
	EXPECT_CLASS("dsn_failed.eml", CLASSIFY_BOUNCE, &r);
	TEST_STREQ(
	    r.reason,
	    "multipart/report delivery-status action=failed status=5.1.1");
	TEST_STREQ(r.bounce_recipient, "nobody@customer.example");
	TEST_STREQ(r.bounce_status, "5.1.1");
	TEST_STREQ(r.original_message_id,
	           "tickd.1234.7.f00d@support.example.com");
	TEST_CHECK(classify_is_machine(r.cls));
	classify_result_clear(&r);
	TEST_CHECK(r.bounce_recipient == NULL);
	TEST_CHECK(r.bounce_status == NULL);
	TEST_CHECK(r.original_message_id == NULL);
}

static void
test_dsn_delayed(void)
{
	struct classify_result r;

	EXPECT_CLASS("dsn_delayed.eml", CLASSIFY_DELAY, &r);
	TEST_STREQ(
	    r.reason,
	    "multipart/report delivery-status action=delayed status=4.4.7");
	TEST_STREQ(r.bounce_recipient, "slow@far.example");
	TEST_STREQ(r.bounce_status, "4.4.7");
	TEST_STREQ(r.original_message_id,
	           "tickd.88.3.beef@support.example.com");
	TEST_CHECK(classify_is_machine(r.cls));
	classify_result_clear(&r);
}

static void
test_dsn_relayed(void)
{
	struct classify_result r;

	EXPECT_CLASS("dsn_relayed.eml", CLASSIFY_DELAY, &r);
	TEST_STREQ(
	    r.reason,
	    "multipart/report delivery-status action=relayed status=2.0.0");
	TEST_STREQ(r.bounce_recipient, "legacy@old.example");
	classify_result_clear(&r);
}

/* dsn_mail - a minimal DSN around the given per-recipient fields. */
static char *
dsn_mail(const char *fields)
{
	return g_strdup_printf(
	    "From: MAILER-DAEMON@mx.example.com\nTo: support@example.com\n"
	    "Subject: report\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"B\"\n\n--B\nContent-Type: text/plain\n\nreport\n\n"
	    "--B\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.com\n\n%s\n--B--\n",
	    fields);
}

static void
test_dsn_actions(void)
{
	static const struct {
		const char *fields;
		enum classify_class want;
		const char *rcpt, *status;
	} rows[] = {
	    {"Final-Recipient: rfc822; a@x.example\nAction: delayed\n"
	     "Status: 4.4.1\n\nFinal-Recipient: rfc822; b@x.example\n"
	     "Action: failed\nStatus: 5.2.2\n",
	     CLASSIFY_BOUNCE, "b@x.example", "5.2.2"},
	    /* no blank line between recipients (seen in the wild) */
	    {"Final-Recipient: rfc822;<c@x.example>\nAction: FAILED\n"
	     "Status: 5.7.1\nFinal-Recipient: rfc822; a@x.example\n"
	     "Action: delivered\nStatus: 2.0.0\n",
	     CLASSIFY_BOUNCE, "c@x.example", "5.7.1"},
	    {"Final-Recipient: rfc822; a@x.example\nAction: delayed\n"
	     "Status: 4.4.1\n\nFinal-Recipient: rfc822; b@x.example\n"
	     "Action: expanded\nStatus: 2.0.0\n",
	     CLASSIFY_DELAY, "a@x.example", "4.4.1"},
	    {"Final-Recipient: rfc822; d@x.example\nAction: delivered\n"
	     "Status: 2.0.0\n",
	     CLASSIFY_DELAY, "d@x.example", "2.0.0"},
	    /* unknown action: the status class decides */
	    {"Final-Recipient: rfc822; e@x.example\nAction: expired\n"
	     "Status: 5.4.7\n",
	     CLASSIFY_BOUNCE, "e@x.example", "5.4.7"},
	    /* Original-Recipient only, status with a comment */
	    {"Original-Recipient: rfc822;F@X.example\nAction: failed\n"
	     "Status: 5.0.0 (unknown)\n",
	     CLASSIFY_BOUNCE, "f@x.example", "5.0.0"},
	    /* no per-recipient fields at all: counted as a failure */
	    {"", CLASSIFY_BOUNCE, NULL, NULL},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = dsn_mail(rows[i].fields);
		struct classify_result r;

		classify_raw(raw, strlen(raw), &opts, &r);
		if (r.cls != rows[i].want)
			fprintf(stderr, "  row %zu: %s\n", i, r.reason);
		TEST_STREQ(classify_name(r.cls), classify_name(rows[i].want));
		if (rows[i].rcpt != NULL) {
			TEST_STREQ(r.bounce_recipient, rows[i].rcpt);
			TEST_STREQ(r.bounce_status, rows[i].status);
		} else {
			TEST_CHECK(r.bounce_recipient == NULL);
			TEST_CHECK(r.bounce_status == NULL);
		}
		classify_result_clear(&r);
		g_free(raw);
	}
}

static void
test_dsn_fallbacks(void)
{
	struct classify_result r;
	const char *raw;

	/* Gmail DSN with an empty delivery-status part: the recipient comes
	 * from X-Failed-Recipients, the status from the prose. */
	raw = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
	      "To: support@example.com\nSubject: Delivery Status Notification"
	      " (Failure)\nX-Failed-Recipients: Gone@Far.example\n"
	      "MIME-Version: 1.0\nContent-Type: multipart/report; "
	      "report-type=delivery-status; boundary=\"B\"\n\n--B\n"
	      "Content-Type: text/plain\n\nThe response was:\n\n550 5.1.1 "
	      "The email account that you tried to reach does not exist.\n\n"
	      "--B\nContent-Type: message/delivery-status\n\n--B--\n";
	classify_raw(raw, strlen(raw), &opts, &r);
	TEST_INTEQ(r.cls, CLASSIFY_BOUNCE);
	TEST_STREQ(r.bounce_recipient, "gone@far.example");
	TEST_STREQ(r.bounce_status, "5.1.1");
	classify_result_clear(&r);

	/* Prose instead of fields; the postmaster it names is no recipient. */
	raw =
	    "From: Mail Administrator <Postmaster@ci.example>\n"
	    "To: support@example.com\nSubject: Mail System Error\n"
	    "MIME-Version: 1.0\nContent-Type: multipart/report; "
	    "report-type=delivery-status; boundary=\"B\"\n\n--B\n"
	    "Content-Type: text/plain\n\nundeliverable\n\n--B\n"
	    "Content-Type: message/delivery-status\n\nPlease reply to "
	    "<Postmaster@relay.ci.example>\n<u@ci.example> has restricted SMS "
	    "e-mail\n\n--B--\n";
	classify_raw(raw, strlen(raw), &opts, &r);
	TEST_INTEQ(r.cls, CLASSIFY_BOUNCE);
	TEST_STREQ(r.bounce_recipient, "u@ci.example");
	classify_result_clear(&r);
}

static void
test_ndr_rcpt_not_us(void)
{
	struct classify_result r;
	const char *raw;

	/* NDR prose naming our own address first: never our own address
	 * (ingest would suppress it), the real recipient comes next. */
	raw = "From: MAILER-DAEMON@mx.example.net\nTo: help@example.com\n"
	      "Subject: failure notice\n\n"
	      "Hi. This is the qmail-send program at mx.example.net.\n"
	      "Your message from <support@example.com> to <help@example.com>\n"
	      "could not be delivered to:\n\n<real@far.example>:\n"
	      "host 10.5.1.20 said: 550 5.1.1 no such user\n";
	classify_raw(raw, strlen(raw), &opts, &r);
	TEST_INTEQ(r.cls, CLASSIFY_BOUNCE);
	TEST_STREQ(r.bounce_recipient, "real@far.example");
	/* "10.5.1.20" is an IP address, not status 5.1.20 */
	TEST_STREQ(r.bounce_status, "5.1.1");
	classify_result_clear(&r);
}

static void
test_arf(void)
{
	struct classify_result r;

	EXPECT_CLASS("arf_abuse.eml", CLASSIFY_COMPLAINT, &r);
	TEST_STREQ(r.reason,
	           "multipart/report feedback-report feedback-type=abuse");
	TEST_STREQ(r.original_message_id,
	           "tickd.1234.1.cafe@support.example.com");
	TEST_CHECK(r.bounce_recipient == NULL);
	classify_result_clear(&r);
}

static void
test_mdn(void)
{
	struct classify_result r;

	EXPECT_CLASS("mdn_displayed.eml", CLASSIFY_RECEIPT, &r);
	TEST_STREQ(r.reason, "multipart/report disposition-notification "
	                     "disposition=manual-action/MDN-sent-manually; "
	                     "displayed");
	TEST_STREQ(r.original_message_id,
	           "tickd.1234.2.d00d@support.example.com");
	classify_result_clear(&r);
}

static void
test_ndr_exchange(void)
{
	struct classify_result r;

	EXPECT_CLASS("ndr_exchange.eml", CLASSIFY_BOUNCE, &r);
	TEST_STREQ(r.reason, "non-standard NDR: NDR text \"delivery has failed "
	                     "to these recipients or groups\"");
	TEST_STREQ(r.bounce_recipient, "ivan.petrov@corp.example");
	TEST_STREQ(r.bounce_status, "5.1.1");
	TEST_STREQ(r.original_message_id,
	           "tickd.1234.3.abcd@support.example.com");
	classify_result_clear(&r);
}

static void
test_ndr_qmail(void)
{
	struct classify_result r;

	EXPECT_CLASS("ndr_qmail.eml", CLASSIFY_BOUNCE, &r);
	TEST_CHECK(strstr(r.reason, "qmail-send program") != NULL);
	TEST_STREQ(r.bounce_recipient, "gone@oldhost.example");
	TEST_STREQ(r.bounce_status, "5.1.1");
	TEST_STREQ(r.original_message_id,
	           "tickd.99.1.0001@support.example.com");
	classify_result_clear(&r);
}

static void
test_ndr_sendmail_old(void)
{
	struct classify_result r;

	EXPECT_CLASS("ndr_sendmail_old.eml", CLASSIFY_BOUNCE, &r);
	TEST_CHECK(strstr(r.reason, "permanent fatal errors") != NULL);
	TEST_STREQ(r.bounce_recipient, "missing@example.jp");
	TEST_STREQ(r.bounce_status, "5.1.1");
	TEST_STREQ(r.original_message_id, "tickd.5.9.0002@support.example.com");
	classify_result_clear(&r);
}

static void
test_ndr_failed_recipients(void)
{
	struct classify_result r;

	EXPECT_CLASS("ndr_failed_recipients.eml", CLASSIFY_BOUNCE, &r);
	TEST_CHECK(g_str_has_prefix(r.reason,
	                            "non-standard NDR: X-Failed-Recipients: "));
	TEST_STREQ(r.bounce_recipient, "full.box@hoster.example");
	TEST_STREQ(r.bounce_status, "5.2.2");
	TEST_CHECK(r.original_message_id == NULL);
	classify_result_clear(&r);
}

static void
test_ndr_delay_warning(void)
{
	struct classify_result r;

	EXPECT_CLASS("ndr_delay_warning.eml", CLASSIFY_DELAY, &r);
	TEST_CHECK(g_str_has_prefix(r.reason, "delay warning: "));
	TEST_STREQ(r.bounce_recipient, "slow@far.example");
	TEST_STREQ(r.bounce_status, "4.4.1");
	classify_result_clear(&r);
}

static void
test_mailer_sender_only(void)
{
	static const struct {
		const char *head;
		enum classify_class want;
	} rows[] = {
	    /* nobody writes as MAILER-DAEMON or "Mail Delivery System" */
	    {"From: MAILER-DAEMON@mx.far.example\nSubject: notice",
	     CLASSIFY_BOUNCE},
	    {"From: Mail Delivery Subsystem <xxx@far.example>\nSubject: x",
	     CLASSIFY_BOUNCE},
	    {"From: MAILER-DAEMON@mx.far.example\nSubject: Warning: could "
	     "not send message for past 4 hours",
	     CLASSIFY_DELAY},
	    /* null sender plus an NDR subject, unknown MTA identity */
	    {"From: Microsoft Outlook <MicrosoftExchange3@corp.example>\n"
	     "Return-Path: <>\nSubject: Undeliverable: [#4] hello",
	     CLASSIFY_BOUNCE},
	    {"From: Notifier <n@corp.example>\nReturn-Path: < >\n"
	     "Subject: Delivery Status Notification (Delay)",
	     CLASSIFY_DELAY},
	    /* either one alone is not enough */
	    {"From: Anna <anna@corp.example>\nReturn-Path: <>\n"
	     "Subject: a question about my invoice",
	     CLASSIFY_HUMAN},
	    {"From: Anna <anna@corp.example>\nSubject: Undeliverable: "
	     "[#4] hello",
	     CLASSIFY_HUMAN},
	    {"From: Anna <anna@corp.example>\nReturn-Path: <>\n"
	     "Subject: Fwd: Undeliverable: [#4] hello",
	     CLASSIFY_HUMAN},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = g_strdup_printf("%s\nTo: support@example.com\n\n"
		                            "Your mail could not be processed."
		                            "\n",
		                            rows[i].head);
		enum classify_class c = class_of_str(raw, &opts);

		if (c != rows[i].want)
			fprintf(stderr, "  row %zu\n", i);
		TEST_STREQ(classify_name(c), classify_name(rows[i].want));
		g_free(raw);
	}
}

static void
test_postmaster_human(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("postmaster_human.eml", CLASSIFY_HUMAN, &r);
	classify_result_clear(&r);

	/* The same mail with a bounce shape added is a bounce. */
	raw = load("postmaster_human.eml", &len);
	if (raw == NULL)
		return;
	v = replace(raw, "Return-Path: <postmaster@customer.example>",
	            "Return-Path: <>");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "bounce");
	g_free(v);
	v = replace(raw, "Subject: Which IP addresses do you send from?",
	            "Subject: Undeliverable: [#4] hello");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "bounce");
	g_free(v);
	/* ... but a postmaster's out-of-office with a null sender is not. */
	v = replace(raw, "Subject: Which IP addresses do you send from?",
	            "Return-Path: <>\nSubject: Automatic reply: [#4] hello");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "auto-reply");
	g_free(v);
	g_free(raw);
}

static void
test_forwarded_bounce(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	/* A customer forwarding a bounce asks a question: human. */
	EXPECT_CLASS("forwarded_bounce.eml", CLASSIFY_HUMAN, &r);
	classify_result_clear(&r);
	raw = load("forwarded_bounce.eml", &len);
	if (raw == NULL)
		return;
	v = replace(raw, "Subject: Fwd: Returned", "Subject: Returned");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "bounce");
	g_free(v);
	g_free(raw);
}

static void
test_forwarded_bounce_attached(void)
{
	struct classify_result r;

	/* The whole DSN attached as message/rfc822 by a person: its report
	 * part is not the mail's own report. */
	EXPECT_CLASS("forwarded_bounce_attached.eml", CLASSIFY_HUMAN, &r);
	TEST_CHECK(r.bounce_recipient == NULL);
	classify_result_clear(&r);
}

static void
test_quoted_bounce(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("quoted_bounce.eml", CLASSIFY_HUMAN, &r);
	classify_result_clear(&r);
	raw = load("quoted_bounce.eml", &len);
	if (raw == NULL)
		return;
	/* Quoted in a new mail (no "Re:"): the "> " alone keeps it human. */
	v = replace(raw, "Subject: Re: [#1400]", "Subject: [#1400]");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	/* Unquoted, but a person's reply in a ticket thread: still human. */
	v = replace(raw, "> Hi. This is the qmail-send",
	            "Hi. This is the qmail-send");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	/* Unquoted and not a reply any more: the MTA is talking. */
	{
		char *w =
		    replace(v, "Subject: Re: [#1400]", "Subject: [#1400]");

		TEST_STREQ(classify_name(class_of_str(w, &opts)), "bounce");
		g_free(w);
	}
	g_free(v);
	g_free(raw);
}

static void
test_spam_flag(void)
{
	struct classify_result r;

	/* The second X-Spam-Flag says YES; spam outranks Precedence: bulk. */
	EXPECT_CLASS("spam_flag.eml", CLASSIFY_SPAM, &r);
	TEST_STREQ(r.reason, "X-Spam-Flag: YES");
	classify_result_clear(&r);
}

static void
test_spam_subjects(void)
{
	static const struct {
		const char *line;
		enum classify_class want;
	} rows[] = {
	    {"Subject: [SPAM] cheap pills", CLASSIFY_SPAM},
	    {"Subject: ***SPAM*** cheap pills", CLASSIFY_SPAM},
	    {"Subject: *****SPAM***** cheap pills", CLASSIFY_SPAM},
	    {"Subject: Your spam filter blocks our mails", CLASSIFY_HUMAN},
	    {"Subject: [spamassassin] rule question", CLASSIFY_HUMAN},
	    {"Subject: x\nX-Spam-Status: Yes, score=9.9", CLASSIFY_SPAM},
	    {"Subject: x\nX-Spam-Status: No, score=0.1", CLASSIFY_HUMAN},
	    {"Subject: x\nX-Spam-Flag: NO", CLASSIFY_HUMAN},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		char *raw = g_strdup_printf(
		    "From: a@customer.example\nTo: support@example.com\n"
		    "%s\n\nbody\n",
		    rows[i].line);
		enum classify_class c = class_of_str(raw, &opts);

		if (c != rows[i].want)
			fprintf(stderr, "  '%s'\n", rows[i].line);
		TEST_STREQ(classify_name(c), classify_name(rows[i].want));
		g_free(raw);
	}
}

static void
test_own_msgid(void)
{
	struct classify_result r;
	struct classify_opts other = opts;

	EXPECT_CLASS("own_msgid.eml", CLASSIFY_OWN, &r);
	TEST_STREQ(
	    r.reason,
	    "own Message-ID <tickd.1234.8.1234abcd@Support.Example.COM>");
	classify_result_clear(&r);

	/* Another instance's domain, or no options: not ours. */
	other.own_domain = "helpdesk.example.net";
	TEST_INTEQ(classify_file("own_msgid.eml", &other, &r), CLASSIFY_HUMAN);
	classify_result_clear(&r);
	TEST_INTEQ(classify_file("own_msgid.eml", NULL, &r), CLASSIFY_HUMAN);
	classify_result_clear(&r);

	/* "tickd." must start the id, the domain must match exactly. */
	TEST_STREQ(classify_name(class_of_str(
	               "From: a@customer.example\nSubject: x\nMessage-ID: "
	               "<x.tickd.1@support.example.com>\n\nb\n",
	               &opts)),
	           "human");
	TEST_STREQ(classify_name(class_of_str(
	               "From: a@customer.example\nSubject: x\nMessage-ID: "
	               "<tickd.1@support.example.com.evil.example>\n\nb\n",
	               &opts)),
	           "human");
}

static void
test_own_loop_header(void)
{
	struct classify_result r;
	struct classify_opts other = opts;

	/* The second occurrence, other case and blanks, carries our value. */
	EXPECT_CLASS("own_loop_header.eml", CLASSIFY_OWN, &r);
	TEST_STREQ(r.reason, "own loop header X-Tickd-Loop: tickd-test-1");
	classify_result_clear(&r);

	other.loop_value = "tickd-test-2";
	TEST_INTEQ(classify_file("own_loop_header.eml", &other, &r),
	           CLASSIFY_HUMAN);
	classify_result_clear(&r);
	other.loop_value = NULL; /* presence alone counts */
	TEST_INTEQ(classify_file("own_loop_header.eml", &other, &r),
	           CLASSIFY_OWN);
	classify_result_clear(&r);
}

static void
test_own_from(void)
{
	struct classify_result r;
	struct classify_opts other = opts;

	EXPECT_CLASS("own_from_auto.eml", CLASSIFY_OWN, &r);
	TEST_STREQ(r.reason, "own address From support@example.com with "
	                     "Precedence");
	classify_result_clear(&r);
	other.own_addresses = NULL;
	TEST_INTEQ(classify_file("own_from_auto.eml", &other, &r),
	           CLASSIFY_LIST);
	classify_result_clear(&r);

	/* An agent writing from the support address by hand: a person. */
	EXPECT_CLASS("own_from_agent.eml", CLASSIFY_HUMAN, &r);
	classify_result_clear(&r);
}

static void
test_precedence_order(void)
{
	gsize len = 0;
	char *raw = load("dsn_failed.eml", &len), *v;

	if (raw == NULL)
		return;
	/* own beats a report structure */
	v = replace(raw,
	            "Message-Id: <20240514150005.9C2D11E0042@mx.example.com>",
	            "Message-Id: <tickd.1.2@support.example.com>");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "own");
	g_free(v);
	/* a report beats spam flags and list headers */
	v = replace(raw, "Auto-Submitted: auto-replied",
	            "X-Spam-Flag: YES\nList-Id: <x.example>");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "bounce");
	g_free(v);
	g_free(raw);

	/* auto-reply beats spam beats list */
	TEST_STREQ(classify_name(class_of_str(
	               "From: a@b.example\nSubject: x\nList-Id: <l.example>\n"
	               "X-Spam-Flag: YES\nAuto-Submitted: auto-replied\n\nb\n",
	               &opts)),
	           "auto-reply");
	TEST_STREQ(classify_name(class_of_str(
	               "From: a@b.example\nSubject: x\nList-Id: <l.example>\n"
	               "X-Spam-Flag: YES\n\nb\n",
	               &opts)),
	           "spam");
}

static void
test_reason_utf8_bounded(void)
{
	GString *v = g_string_new(NULL);
	struct classify_result r;
	char *raw;

	/* 3-byte characters and a control byte in a long value: the reason
	 * is cut on a character boundary and stays one printable line. */
	for (int i = 0; i < 100; i++)
		g_string_append(v, "自動");
	raw = g_strdup_printf("From: a@b.example\nSubject: x\n"
	                      "Auto-Submitted: auto-generated\t%s\n\nb\n",
	                      v->str);
	classify_raw(raw, strlen(raw), &opts, &r);
	TEST_INTEQ(r.cls, CLASSIFY_AUTO_REPLY);
	TEST_CHECK(g_utf8_validate(r.reason, -1, NULL));
	TEST_CHECK(strlen(r.reason) < sizeof(r.reason));
	TEST_CHECK(strlen(r.reason) > 40);
	TEST_CHECK(strchr(r.reason, '\t') == NULL);
	classify_result_clear(&r);
	g_free(raw);

	/* A long configured loop header name pushes the reason past its
	 * size: the final cut must not split a character either. */
	{
		struct classify_opts lo = opts;
		char name[140];

		memset(name, 'A', sizeof(name) - 1);
		memcpy(name, "X-", 2);
		name[sizeof(name) - 1] = '\0';
		lo.loop_header = name;
		lo.loop_value = NULL;
		raw = g_strdup_printf("From: a@b.example\nSubject: x\n%s: %s"
		                      "\n\nb\n",
		                      name, v->str);
		classify_raw(raw, strlen(raw), &lo, &r);
		TEST_INTEQ(r.cls, CLASSIFY_OWN);
		TEST_CHECK(g_utf8_validate(r.reason, -1, NULL));
		TEST_CHECK(strlen(r.reason) >= sizeof(r.reason) - 4);
		classify_result_clear(&r);
		g_free(raw);
	}
	g_string_free(v, TRUE);
}

static void
test_degenerate(void)
{
	struct classify_result r;
	struct mime_msg *m;

	classify_msg(NULL, &opts, &r);
	TEST_INTEQ(r.cls, CLASSIFY_HUMAN);
	classify_result_clear(&r);

	m = mime_parse("", 0, NULL);
	classify_msg(m, &opts, &r);
	TEST_INTEQ(r.cls, CLASSIFY_HUMAN);
	classify_result_clear(&r);
	mime_msg_free(&m);

	m = mime_parse("\x01\x02 not a mail", 13, NULL);
	classify_msg(m, NULL, &r);
	TEST_INTEQ(r.cls, CLASSIFY_HUMAN);
	classify_result_clear(&r);
	mime_msg_free(&m);

	classify_result_clear(NULL); /* must not crash */
	TEST_CHECK(true);
}

static void
test_names(void)
{
	static const char *const want[CLASSIFY__COUNT] = {
	    "human",   "auto-reply", "bounce", "delay", "complaint",
	    "receipt", "list",       "spam",   "own",
	};

	for (int c = 0; c < CLASSIFY__COUNT; c++) {
		TEST_STREQ(classify_name((enum classify_class)c), want[c]);
		TEST_INTEQ(classify_is_machine((enum classify_class)c),
		           c != CLASSIFY_HUMAN);
	}
	TEST_STREQ(classify_name(CLASSIFY__COUNT), "unknown");
	TEST_CHECK(classify_is_machine(CLASSIFY__COUNT));
}

static void
test_speed(void)
{
	/* 4 MiB of body text: the NDR and Message-ID scans are windowed,
	 * so one classification must stay far below a millisecond. */
	GString *raw = g_string_new("From: a@customer.example\n"
	                            "Subject: big\nMessage-ID: <big@x>\n\n");
	struct mime_msg *m;
	struct classify_result r;
	gint64 t0, t;
	const int n = 200;

	while (raw->len < 4 * 1024 * 1024)
		g_string_append(raw,
		                "lorem ipsum dolor sit amet, consectetur "
		                "adipiscing elit, sed do eiusmod tempor\n");
	m = mime_parse(raw->str, raw->len, NULL);
	t0 = g_get_monotonic_time();
	for (int i = 0; i < n; i++) {
		classify_msg(m, &opts, &r);
		classify_result_clear(&r);
	}
	t = (g_get_monotonic_time() - t0) / n;
	if (t >= 500)
		fprintf(stderr, "  %lld us per mail\n", (long long)t);
	TEST_CHECK(t < 500);
	mime_msg_free(&m);
	g_string_free(raw, TRUE);
}

/* Amazon SES through SNS: the event in JSON, plain and as an envelope. */
static void
test_provider_ses(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("ses_sns_bounce.eml", CLASSIFY_BOUNCE, &r);
	TEST_STREQ(r.reason, "provider notification notificationType=Bounce");
	TEST_STREQ(r.bounce_recipient, "gone.customer@customer.example");
	TEST_STREQ(r.bounce_status, "5.1.1");
	classify_result_clear(&r);
	EXPECT_CLASS("ses_sns_complaint_json.eml", CLASSIFY_COMPLAINT, &r);
	TEST_CHECK(r.bounce_recipient == NULL);
	classify_result_clear(&r);

	raw = load("ses_sns_bounce.eml", &len);
	if (raw == NULL)
		return;
	/* delivery and delay events: machine mail, nothing failed */
	v = replace(raw, "\"notificationType\":\"Bounce\"",
	            "\"notificationType\":\"Delivery\"");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "auto-reply");
	g_free(v);
	v = replace(raw, "\"notificationType\":\"Bounce\"",
	            "\"eventType\":\"DeliveryDelay\"");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "delay");
	g_free(v);
	/* prose about SES from a person is a person's */
	{
		static const char person[] =
		    "From: dev@customer.example\nTo: support@example.com\n"
		    "Subject: SES question\n\nOur notificationType is "
		    "\"Bounce\" for every mail, why?\n";

		TEST_STREQ(classify_name(class_of_str(person, &opts)), "human");
	}
	g_free(raw);
}

/* SendGrid, Mailgun and Postmark events relayed as mail (JSON body). */
static void
test_provider_events(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("sendgrid_event.eml", CLASSIFY_BOUNCE, &r);
	TEST_STREQ(r.reason, "provider notification event=bounce");
	/* not SNS: a JSON body alone never suppresses an address */
	TEST_CHECK(r.bounce_recipient == NULL);
	classify_result_clear(&r);
	EXPECT_CLASS("mailgun_event.eml", CLASSIFY_BOUNCE, &r);
	TEST_STREQ(r.reason, "provider notification event=failed");
	classify_result_clear(&r);
	EXPECT_CLASS("postmark_spam.eml", CLASSIFY_COMPLAINT, &r);
	TEST_STREQ(r.reason, "provider notification RecordType=SpamComplaint");
	classify_result_clear(&r);

	/* the same JSON after a person's words is a person asking */
	raw = load("sendgrid_event.eml", &len);
	if (raw == NULL)
		return;
	v = replace(raw, "[{\"email\"", "Hi, we got this, why?\n[{\"email\"");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	g_free(raw);
}

/* A Japanese carrier's error notice in raw ISO-2022-JP. */
static void
test_carrier_jp(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("carrier_jp_error.eml", CLASSIFY_BOUNCE, &r);
	TEST_CHECK(strstr(r.reason, "メールエラー通知") != NULL);
	classify_result_clear(&r);
	raw = load("carrier_jp_error.eml", &len);
	if (raw == NULL)
		return;
	/* a customer's own address and envelope: a person asking */
	v = replace(raw, "Return-Path: <>",
	            "Return-Path: <k@customer.example>");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	g_free(raw);
}

/* A mail-security gateway reporting that it blocked our mail. */
static void
test_gateway_blocked(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("gateway_blocked.eml", CLASSIFY_BOUNCE, &r);
	TEST_STREQ(r.reason, "blocked/failed notice \"message blocked\" from "
	                     "no-reply");
	classify_result_clear(&r);
	raw = load("gateway_blocked.eml", &len);
	if (raw == NULL)
		return;
	/* the admin writing the same words himself is answered */
	v = replace(raw, "no-reply@security.customer.example",
	            "it-admin@customer.example");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	/* and a forward of the notice by a person too */
	v = replace(raw, "Subject: Message blocked",
	            "Subject: Fwd: Message blocked");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	/* the null envelope sender is a machine too, but only its own
	   unquoted words count */
	{
		char *a = replace(raw,
		                  "From: Email Security "
		                  "<no-reply@security.customer.example>",
		                  "Return-Path: <>\nFrom: it@customer.example");
		char *b = replace(a, "Subject: Message blocked: ", "Subject: ");
		char *c = replace(b, "Your message to", "> Your message to");
		char *d = replace(c, "and will not", "> and will not");

		TEST_STREQ(classify_name(class_of_str(b, &opts)), "bounce");
		TEST_STREQ(classify_name(class_of_str(d, &opts)), "human");
		g_free(a);
		g_free(b);
		g_free(c);
		g_free(d);
	}
	g_free(raw);
}

/* ARF complaints without the RFC 5965 structure. */
static void
test_arf_variants(void)
{
	struct classify_result r;

	EXPECT_CLASS("arf_text_plain.eml", CLASSIFY_COMPLAINT, &r);
	TEST_STREQ(r.reason, "ARF fields in the text feedback-type=abuse");
	TEST_STREQ(r.original_message_id, "ack-90@support.example.com");
	classify_result_clear(&r);
	/* a person quoting those fields is a person */
	{
		static const char quoted[] =
		    "From: a@customer.example\nTo: support@example.com\n"
		    "Subject: what is this?\n\nWe got this:\n"
		    "> Feedback-Type: abuse\n> User-Agent: ISP-FBL/2.1\n"
		    "> Version: 1\n";

		TEST_STREQ(classify_name(class_of_str(quoted, &opts)), "human");
	}
	EXPECT_CLASS("arf_jmrp.eml", CLASSIFY_COMPLAINT, &r);
	TEST_STREQ(r.original_message_id, "ack-91@support.example.com");
	classify_result_clear(&r);
	EXPECT_CLASS("arf_abuse_text.eml", CLASSIFY_COMPLAINT, &r);
	TEST_STREQ(r.original_message_id, "ack-92@support.example.com");
	classify_result_clear(&r);
	/* the abuse wording without the reported mail: a person's words */
	{
		static const char person[] =
		    "From: a@customer.example\nTo: support@example.com\n"
		    "Subject: spam\n\nThis is an email abuse report for an "
		    "email message I got from you.\n";

		TEST_STREQ(classify_name(class_of_str(person, &opts)), "human");
	}
}

/* The rule of thumb: a no-reply sender about a delivery is not answered. */
static void
test_noreply_delivery(void)
{
	struct classify_result r;
	gsize len = 0;
	char *raw, *v;

	EXPECT_CLASS("noreply_delivery.eml", CLASSIFY_AUTO_REPLY, &r);
	TEST_STREQ(r.reason, "no-reply sender about a delivery (\"deliver\")");
	classify_result_clear(&r);
	raw = load("noreply_delivery.eml", &len);
	if (raw == NULL)
		return;
	v = replace(raw, "no-reply@parcels.example", "anna@customer.example");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	v = replace(raw, "no-reply@parcels.example",
	            "donotreply+bounces@parcels.example");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "auto-reply");
	g_free(v);
	/* a no-reply sender about something else keeps today's verdict */
	v = replace(raw, "We tried to deliver your parcel today",
	            "We have a question about your account");
	TEST_STREQ(classify_name(class_of_str(v, &opts)), "human");
	g_free(v);
	g_free(raw);
}

int
main(void)
{
	static const struct test_case cases[] = {
	    {"human_plain", test_human_plain},
	    {"auto_submitted_no", test_auto_submitted_no},
	    {"auto_submitted_vacation", test_auto_submitted_vacation},
	    {"auto_submitted_folded", test_auto_submitted_folded},
	    {"auto_submitted_values", test_auto_submitted_values},
	    {"autoreply_headers", test_autoreply_headers},
	    {"ooo_subject_only", test_ooo_subject_only},
	    {"ooo_exchange_not_bounce", test_ooo_exchange_not_bounce},
	    {"ooo_subjects", test_ooo_subjects},
	    {"precedence_bulk", test_precedence_bulk},
	    {"list_mailman", test_list_mailman},
	    {"list_sender_owner", test_list_sender_owner},
	    {"list_headers", test_list_headers},
	    {"dsn_failed", test_dsn_failed},
	    {"dsn_delayed", test_dsn_delayed},
	    {"dsn_relayed", test_dsn_relayed},
	    {"dsn_actions", test_dsn_actions},
	    {"dsn_fallbacks", test_dsn_fallbacks},
	    {"ndr_rcpt_not_us", test_ndr_rcpt_not_us},
	    {"arf", test_arf},
	    {"mdn", test_mdn},
	    {"ndr_exchange", test_ndr_exchange},
	    {"ndr_qmail", test_ndr_qmail},
	    {"ndr_sendmail_old", test_ndr_sendmail_old},
	    {"ndr_failed_recipients", test_ndr_failed_recipients},
	    {"ndr_delay_warning", test_ndr_delay_warning},
	    {"mailer_sender_only", test_mailer_sender_only},
	    {"postmaster_human", test_postmaster_human},
	    {"forwarded_bounce", test_forwarded_bounce},
	    {"forwarded_bounce_attached", test_forwarded_bounce_attached},
	    {"quoted_bounce", test_quoted_bounce},
	    {"spam_flag", test_spam_flag},
	    {"spam_subjects", test_spam_subjects},
	    {"own_msgid", test_own_msgid},
	    {"own_loop_header", test_own_loop_header},
	    {"own_from", test_own_from},
	    {"precedence_order", test_precedence_order},
	    {"reason_utf8_bounded", test_reason_utf8_bounded},
	    {"degenerate", test_degenerate},
	    {"provider_ses", test_provider_ses},
	    {"provider_events", test_provider_events},
	    {"carrier_jp", test_carrier_jp},
	    {"gateway_blocked", test_gateway_blocked},
	    {"arf_variants", test_arf_variants},
	    {"noreply_delivery", test_noreply_delivery},
	    {"names", test_names},
	    {"speed", test_speed},
	};

	mime_init();
	return test_run("classify", cases, G_N_ELEMENTS(cases));
}
