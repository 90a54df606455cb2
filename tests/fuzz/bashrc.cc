// Fuzz what `phasebox doctor` reads of a Portage configuration as root
// (helpers/common/portage_config.hh, diagnose.hh): lex_shell() on arbitrary bash text,
// expand_word() and unquote() on its words, shlex_split() and parse_hook() on a hook
// command, parse_envvar_lines() and unknown_features_warned() on portageq's answers, the
// version parsers, and masked_proc_paths() on the text as a mountinfo.  Properties: no
// crash; every command's line lies within the text; a word's expansion holds no NUL the
// text did not; the hook's flags agree with each other; at most one masked path a line.
#include "common/diagnose.hh"
#include "common/portage_config.hh"
#include "fuzz.hh"

#include <algorithm>
#include <cstdint>
#include <string>

using namespace phasebox;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
	const std::string text(reinterpret_cast<const char*>(data), size);
	const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
	const bool nul = text.find('\0') != std::string::npos;
	const std::map<std::string, std::string> vars{{"PORTAGE_CONFIGROOT", "/r/"}, {"EPREFIX", ""}};
	for (const auto& c : portage::lex_shell(text)) {
		FUZZ_REQUIRE(c.words.empty() || (c.line >= 1 && c.line <= lines));
		for (const auto& w : c.words) {
			if (auto e = portage::expand_word(w.raw, vars))
				FUZZ_REQUIRE(nul || e->find('\0') == std::string::npos);
			(void)portage::unquote(w.raw);
		}
	}
	auto h = portage::parse_hook(text, [](const std::string& p) { return p.size() % 2 == 0; });
	FUZZ_REQUIRE(!h.adopt || h.set);
	FUZZ_REQUIRE(!h.pid || h.adopt);
	FUZZ_REQUIRE(!h.this_installation || h.adopt);
	(void)portage::shlex_split(text);
	(void)portage::parse_envvar_lines(text);
	(void)portage::unknown_features_warned(text);
	(void)portage::version_numbers(portage::version_from_portageq(text));
	(void)portage::version_from_build_file(text);
	(void)portage::snippet_libexec(text);
	FUZZ_REQUIRE(diag::masked_proc_paths(text).size() <= static_cast<size_t>(lines));
	(void)diag::initial_uid_map(text);
	return 0;
}
