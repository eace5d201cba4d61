#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# tests/cli_campaign_args.sh - the arguments of `herald campaign create |
# status | pause | resume | cancel` and `herald vendor set | list` are
# checked before anything is sent: every usage error exits 2 with a message
# that names the problem, and it does so against a server address where
# nobody listens, so no engine is involved (a connection attempt would exit
# 3). Arguments that pass the checks do try to connect (exit 3 there).
# --help of each command exits 0. No engine is started.
# Exit 0 pass, 1 fail, 77 skip.

. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.bash"

dead=$(free_port)
zero=$(printf '%064d' 0)
# herald as an app with a well-formed secret, aimed at nobody.
h() {
	"$HERALD" --server "127.0.0.1:$dead" --timeout 1000 --app shop --secret "$zero" "$@"
}

# usage WANT_STDERR_REGEX ARGS...: exit 2 and the message.
usage() {
	local want=$1
	shift
	run_cli 2 h "$@"
	grep -Eq -- "$want" "$ERR" || fail "'$*': stderr '$(cat "$ERR")' lacks /$want/"
	[ ! -s "$OUT" ] || fail "'$*' printed to stdout: $(cat "$OUT")"
}

# --help: the usage line and the flags the command takes.
for cmd in "campaign create" "campaign status" "campaign pause" "campaign resume" \
	"campaign cancel" "campaign upload" "vendor set" "vendor list"; do
	# shellcheck disable=SC2086
	run_cli 0 "$HERALD" $cmd --help
	grep -q "^usage: herald .*$cmd" "$OUT" || fail "$cmd --help: $(cat "$OUT")"
done
run_cli 0 "$HERALD" campaign create --help
for flag in --audience --user --users --users-file --tag-expr --channel --title --body \
	--category --lane --wait; do
	grep -q -- "$flag" "$OUT" || fail "campaign create --help does not mention $flag"
done
run_cli 0 "$HERALD" vendor set --help
for flag in --target --url --app-id --vendor-secret --vendor-secret2 --package --sign-name \
	--template-code --batch --connections --rate --quota; do
	grep -q -- "$flag" "$OUT" || fail "vendor set --help does not mention $flag"
done
run_cli 0 "$HERALD" campaign --help
for sub in create status pause resume cancel counters upload; do
	grep -q "campaign $sub" "$OUT" || fail "campaign --help does not list $sub"
done
run_cli 0 "$HERALD" vendor --help
run_cli 0 "$HERALD" --help
grep -q 'vendor set' "$OUT" || fail "--help does not list vendor set"

# campaign create: required flags.
c="campaign create"
usage 'needs --audience' $c --channel push --body hi
usage 'needs --channel' $c --audience all --body hi
usage 'needs --body' $c --audience all --channel push
usage "unknown audience 'everyone'" $c --audience everyone --channel push --body hi
# Channels: names, at most four.
usage "unknown channel 'pigeon'" $c --audience all --channel push,pigeon --body hi
usage "unknown channel ''" $c --audience all --channel push, --body hi
usage 'more than 4 channels' $c --audience all --channel push,sms,email,wechat,webhook --body hi
usage "unknown lane 'slow'" $c --audience all --channel push --body hi --lane slow
# Each audience takes its own flags, and only those.
usage 'needs --user' $c --audience user --channel push --body hi
usage '--user does not go with --audience all' $c --audience all --user u --channel push --body hi
usage '--users does not go with --audience user' $c --audience user --user u --users a,b \
	--channel push --body hi
usage '--tag-expr does not go with --audience list' $c --audience list --users a \
	--tag-expr vip --channel push --body hi
usage '--users-file does not go with --audience tag' $c --audience tag --tag-expr vip \
	--users-file /dev/null --channel push --body hi
usage 'needs --tag-expr' $c --audience tag --channel push --body hi
usage 'needs --users or --users-file' $c --audience list --channel push --body hi
usage 'not both' $c --audience list --users a --users-file /dev/null --channel push --body hi
usage 'empty user id in --users' $c --audience list --users a,,b --channel push --body hi
usage 'empty user id in --users' $c --audience list --users a, --channel push --body hi
usage 'cannot read --users-file' $c --audience list --users-file "$CLI_TMP/missing" \
	--channel push --body hi
: >"$CLI_TMP/empty"
printf '\n\r\n\n' >"$CLI_TMP/blank"
usage 'no user ids in --users-file' $c --audience list --users-file "$CLI_TMP/empty" \
	--channel push --body hi
usage 'no user ids in --users-file' $c --audience list --users-file "$CLI_TMP/blank" \
	--channel push --body hi
printf 'a\0b\n' >"$CLI_TMP/nul"
usage 'NUL byte' $c --audience list --users-file "$CLI_TMP/nul" --channel push --body hi
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' 'u' >"$CLI_TMP/huge"
usage 'larger than a request' $c --audience list --users-file "$CLI_TMP/huge" --channel push \
	--body hi
# Flags of other commands, --watch included, are refused; --wait is not a status flag.
usage 'flag --watch does not apply' $c --audience all --channel push --body hi --watch
usage 'flag --target does not apply' $c --audience all --channel push --body hi --target sms
usage 'flag --wait does not apply' campaign status 1 --wait
usage 'flag --audience does not apply' campaign status 1 --audience all
usage 'flag --body does not apply' vendor set --target sms --url http://x --body b
usage 'flag --target does not apply' vendor list --target sms
usage "unknown flag '--users-files'" $c --audience list --users-files f --channel push --body hi
usage 'flag --body needs a value' $c --audience all --channel push --body

# campaign status | pause | resume | cancel <campaign_id>.
for sub in status pause resume cancel; do
	usage 'wrong number of arguments' campaign $sub
	usage 'wrong number of arguments' campaign $sub 1 2
	usage "bad campaign id 'x'" campaign $sub x
	usage "bad campaign id '-1'" campaign $sub -- -1
	usage "bad campaign id '18446744073709551616'" campaign $sub 18446744073709551616
done
usage 'unknown subcommand' campaign stop 1

# campaign upload <campaign_id> <FILE|->, and the upload flags of create.
printf 'alice\n' >"$CLI_TMP/rows"
usage 'wrong number of arguments' campaign upload 1
usage 'wrong number of arguments' campaign upload 1 "$CLI_TMP/rows" extra
usage "bad campaign id 'x'" campaign upload x "$CLI_TMP/rows"
usage "cannot read $CLI_TMP/missing" campaign upload 1 "$CLI_TMP/missing"
usage "bad --chunk-kb '449'" campaign upload 1 "$CLI_TMP/rows" --chunk-kb 449
usage "bad --chunk-kb '0'" campaign upload 1 "$CLI_TMP/rows" --chunk-kb 0
usage "bad --first-line '0'" campaign upload 1 "$CLI_TMP/rows" --first-line 0
usage "bad --first-line '4294967296'" campaign upload 1 "$CLI_TMP/rows" --first-line 4294967296
usage 'flag --columns does not apply' campaign upload 1 "$CLI_TMP/rows" --columns a
usage 'flag --keep-open does not apply' $c --audience upload --upload-kind users --channel push \
	--body hi --keep-open
usage 'needs --upload-kind' $c --audience upload --channel push --body hi
usage "unknown upload kind 'ids'" $c --audience upload --upload-kind ids --channel push --body hi
usage '--upload-kind does not go with --audience tag' $c --audience tag --tag-expr vip \
	--upload-kind users --channel push --body hi
usage '--file does not go with --audience list' $c --audience list --users a --file "$CLI_TMP/rows" \
	--channel push --body hi
usage '--chunk-kb goes with --file' $c --audience upload --upload-kind users --chunk-kb 8 \
	--channel push --body hi
usage '--wait with --audience upload needs --file' $c --audience upload --upload-kind users \
	--channel push --body hi --wait
usage "cannot read --file $CLI_TMP/missing" $c --audience upload --upload-kind users \
	--file "$CLI_TMP/missing" --channel push --body hi

# vendor set.
v="vendor set"
usage 'needs --target' $v --url http://127.0.0.1:1
usage 'needs --url' $v --target huawei
usage "unknown target 'apns'" $v --target apns --url http://127.0.0.1:1
usage "bad --batch '65536'" $v --target huawei --url http://x --batch 65536
usage "bad --batch 'ten'" $v --target huawei --url http://x --batch ten
usage "bad --connections '-1'" $v --target huawei --url http://x --connections -1
usage "bad --rate '4294967296'" $v --target sms --url http://x --rate 4294967296
usage "bad --quota '1e6'" $v --target sms --url http://x --quota 1e6
usage 'wrong number of arguments' $v extra --target sms --url http://x
usage 'wrong number of arguments' vendor list extra
# --secret is the app's own secret, not the vendor's: a vendor token there
# is refused as a malformed app secret before anything is sent.
usage '64 hex digits' $v --target huawei --url http://x --secret vendortoken

# What passes the checks goes on to connect (and finds nobody: 3).
printf 'alice\r\nbob\n\ncarol\n' >"$CLI_TMP/users"
for args in "$c --audience all --channel push,sms --body hi" \
	"$c --audience user --user alice --channel push --body hi --lane transactional --wait" \
	"$c --audience list --users alice,bob --channel sms --title t --body b --category c" \
	"$c --audience list --users-file $CLI_TMP/users --channel webhook --body hi" \
	"$c --audience tag --tag-expr vip --channel push --body hi" \
	"$c --audience upload --upload-kind phones --columns a,b --channel sms --body hi" \
	"$c --audience upload --upload-kind users --file $CLI_TMP/rows --chunk-kb 448 --channel push --body hi --wait" \
	"campaign upload 7 $CLI_TMP/rows --first-line 4294967295 --chunk-kb 1 --keep-open" \
	"campaign status 1 --watch" "campaign pause 18446744073709551615" \
	"$v --target webhook --url http://x/hook --vendor-secret s --batch 0 --rate 0" \
	"$v --target sms --url https://x --app-id a --vendor-secret k --vendor-secret2 s2 \
		--package p --sign-name n --template-code t --batch 1000 --connections 64 \
		--rate 4294967295 --quota 1" \
	"vendor list"; do
	# shellcheck disable=SC2086
	run_cli 3 h $args
	grep -q '^herald: cannot connect' "$ERR" || fail "'$args': stderr: $(cat "$ERR")"
done
# --users-file - reads standard input.
printf 'a\nb\n' | run_cli 3 h $c --audience list --users-file - --channel push --body hi

finish
