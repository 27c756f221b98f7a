/* Inline SVG pictures of the fabric health report: the loss heatmap (devices
 * in rows by tier, each directed link a line coloured by loss, suspects in
 * the fault colour) and timelines. No scripts, fonts or external links. */
#include "fabric_report.h"

#include "model.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SVG_ROW_PX 120      /* between tier rows */
#define SVG_TOP_PX 40
#define SVG_NODE_W 64
#define SVG_NODE_H 24
#define SVG_STEP_MIN_PX 74  /* between devices of a row */
#define SVG_WIDTH_MIN_PX 960
#define SVG_PAIR_OFFSET_PX 3.5 /* the two directions of a link, side by side */
#define SVG_NO_DATA_COLOR "#b0bec5"

void freport_xml_write(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '&': fputs("&amp;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

const char *freport_loss_color(double loss_ratio)
{
	/* thresholds an operator reasons in: 0.01%, 0.1%, 1%, 5% */
	if (loss_ratio < 1e-4)
		return "#2e7d32";
	if (loss_ratio < 1e-3)
		return "#9ccc65";
	if (loss_ratio < 1e-2)
		return "#fbc02d";
	if (loss_ratio < 5e-2)
		return "#f57c00";
	return "#c62828";
}

struct svg_pos {
	double x, y;
};

static const struct fabric_view *svg_sort_view;

static int svg_dev_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	/* version order: leaf2 before leaf10 */
	return strverscmp(fabric_view_dev_name(svg_sort_view, x),
			  fabric_view_dev_name(svg_sort_view, y));
}

/* Place devices: a row per tier, highest on top; devices the hosts cannot
 * reach (tier -1) get a row of their own above. */
static struct svg_pos *svg_layout(const struct fabric_view *v, double *width,
				  double *height)
{
	const struct model *m = v->m;
	struct svg_pos *pos = calloc(m->ndevs + 1, sizeof(*pos));
	uint32_t *row = malloc((m->ndevs + 1) * sizeof(*row));
	int rows = v->tiers, orphans = 0;
	size_t widest = 1;

	if (!pos || !row) {
		free(pos);
		free(row);
		return NULL;
	}
	for (int t = -1; t < v->tiers; t++) {
		size_t n = 0;

		for (uint32_t d = 0; d < m->ndevs; d++)
			n += v->devs[d].tier == t;
		if (n > widest)
			widest = n;
		if (t < 0 && n)
			orphans = 1;
	}
	rows += orphans;
	*width = fmax(SVG_WIDTH_MIN_PX, (double)widest * SVG_STEP_MIN_PX + 80);
	*height = SVG_TOP_PX + (rows - 1) * SVG_ROW_PX + 2 * SVG_NODE_H + 10;
	for (int t = -1; t < v->tiers; t++) {
		size_t n = 0;
		double step;

		for (uint32_t d = 0; d < m->ndevs; d++)
			if (v->devs[d].tier == t)
				row[n++] = d;
		if (!n)
			continue;
		svg_sort_view = v;
		qsort(row, n, sizeof(*row), svg_dev_cmp);
		step = (*width - 80) / (double)n;
		for (size_t i = 0; i < n; i++) {
			int r = t < 0 ? 0 : v->tiers - 1 - t + orphans; /* row 0 is the top */

			pos[row[i]].x = 40 + step * ((double)i + 0.5);
			pos[row[i]].y = SVG_TOP_PX + r * SVG_ROW_PX + SVG_NODE_H;
		}
	}
	free(row);
	return pos;
}

static void svg_pct(char *buf, size_t len, double ratio)
{
	if (ratio > 0 && ratio < 1e-4)
		snprintf(buf, len, "%.2g%%", 100 * ratio);
	else
		snprintf(buf, len, "%.3g%%", 100 * ratio);
}

static void svg_link_write(FILE *out, const struct fabric_view *v,
			   const struct svg_pos *pos, uint32_t l, int faults)
{
	const struct fabric_link *fl = &v->links[l];
	const struct suspect *s = fl->suspect >= 0 ? &v->sus.v[fl->suspect] : NULL;
	const char *from = fabric_view_dev_name(v, fl->from);
	const char *to = fabric_view_dev_name(v, fl->to);
	struct svg_pos a = pos[fl->from], b = pos[fl->to];
	double dx = b.x - a.x, dy = b.y - a.y, len = hypot(dx, dy);
	/* each direction on its own side, so both stay visible */
	double side = strcmp(from, to) < 0 ? 1 : -1;
	double ox = len > 0 ? -dy / len * SVG_PAIR_OFFSET_PX * side : 0;
	double oy = len > 0 ? dx / len * SVG_PAIR_OFFSET_PX * side : 0;
	char pct[32], obs[32];
	int unseen = !s && fl->sent <= 0;

	if ((s != NULL) != faults)
		return; /* faults are drawn last, on top */
	svg_pct(pct, sizeof(pct), fl->loss_ratio);
	svg_pct(obs, sizeof(obs), fl->sent > 0 ? fl->lost / fl->sent : 0);
	fprintf(out, "<line class=\"link%s\" data-from=\"", s ? " fault" : "");
	freport_xml_write(out, from);
	fprintf(out, "\" data-to=\"");
	freport_xml_write(out, to);
	/* a link no probe is known to cross has no loss figure: grey, dashed,
	 * never the colour of a healthy link */
	fprintf(out,
		"\" data-loss=\"%s%.6g\" data-suspect=\"%s\" x1=\"%.1f\" y1=\"%.1f\" "
		"x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%d\" "
		"stroke-linecap=\"round\"%s><title>",
		unseen ? "-" : "", unseen ? 0 : isfinite(fl->loss_ratio) ? fl->loss_ratio : 0,
		s ? suspect_kind_name(s->kind) : "", a.x + ox, a.y + oy, b.x + ox, b.y + oy,
		s ? FREPORT_FAULT_COLOR : unseen ? SVG_NO_DATA_COLOR : freport_loss_color(fl->loss_lo),
		s ? 7 : unseen ? 2 : 3, unseen ? " stroke-dasharray=\"5 4\"" : "");
	freport_xml_write(out, from);
	fprintf(out, " \u2192 ");
	freport_xml_write(out, to);
	if (unseen)
		fprintf(out, ": no probe known to cross it (no traced path)");
	else
		fprintf(out, ": %s loss charged (at least %.3g%%; %s on flows crossing), "
			"%llu flows, %llu lossy",
			pct, 100 * fl->loss_lo, obs, (unsigned long long)fl->flows,
			(unsigned long long)fl->lossy_flows);
	if (s)
		fprintf(out, "; SUSPECT %s, confidence %.4f", suspect_kind_name(s->kind),
			s->confidence);
	fprintf(out, "</title></line>\n");
	if (s) {
		/* name the fault on the picture itself, not only on hover */
		fprintf(out, "<text class=\"fault-label\" x=\"%.1f\" y=\"%.1f\" "
			"fill=\"" FREPORT_FAULT_COLOR "\" font-weight=\"bold\" "
			"font-size=\"13\" text-anchor=\"start\" stroke=\"#ffffff\" "
			"stroke-width=\"4\" paint-order=\"stroke\">",
			(a.x + b.x) / 2 + 8 + ox, (a.y + b.y) / 2 + oy);
		freport_xml_write(out, from);
		fprintf(out, " \u2192 ");
		freport_xml_write(out, to);
		fprintf(out, " %s</text>\n", pct);
	}
}

static void svg_legend_write(FILE *out, double y)
{
	static const struct {
		double loss;
		const char *label;
	} scale[] = {
		{ 0, "< 0.01%" }, { 2e-4, "< 0.1%" }, { 2e-3, "< 1%" },
		{ 2e-2, "< 5%" }, { 0.1, "\u2265 5%" },
	};
	double x = 40;

	fprintf(out, "<g class=\"legend\" font-size=\"12\">\n");
	fprintf(out, "<text x=\"%.0f\" y=\"%.0f\">link loss (sure of):</text>\n", x, y + 4);
	x += 115;
	for (size_t i = 0; i < sizeof(scale) / sizeof(scale[0]); i++) {
		fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
			"stroke=\"%s\" stroke-width=\"4\"/>"
			"<text x=\"%.0f\" y=\"%.0f\">%s</text>\n",
			x, y, x + 24, y, freport_loss_color(scale[i].loss), x + 30, y + 4,
			scale[i].label);
		x += 95;
	}
	fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
		"stroke=\"" SVG_NO_DATA_COLOR "\" stroke-width=\"2\" stroke-dasharray=\"5 4\"/>"
		"<text x=\"%.0f\" y=\"%.0f\">no data</text>\n", x, y, x + 24, y, x + 30, y + 4);
	x += 95;
	fprintf(out, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" "
		"stroke=\"" FREPORT_FAULT_COLOR "\" stroke-width=\"7\"/>"
		"<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">suspect (localized fault)</text>\n",
		x, y, x + 24, y, x + 30, y + 4);
	fprintf(out, "</g>\n");
}

int freport_svg_heatmap_write(FILE *out, const struct freport *r)
{
	const struct fabric_view *v = &r->day;
	const struct model *m = v->m;
	double width, height;
	struct svg_pos *pos = svg_layout(v, &width, &height);
	char label[64];
	int orphans = 0;

	if (!pos)
		return -1;
	fprintf(out, "<svg id=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
		"font-family=\"sans-serif\" role=\"img\" aria-label=\"fabric loss heatmap\">\n",
		width, height + 30, width, height + 30);
	fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
	svg_legend_write(out, 18);
	for (uint32_t d = 0; d < m->ndevs; d++)
		orphans |= v->devs[d].tier < 0;
	for (int t = v->tiers - 1; t >= 0; t--)
		fprintf(out, "<text x=\"6\" y=\"%d\" font-size=\"11\" fill=\"#666\">%s</text>\n",
			SVG_TOP_PX + (v->tiers - 1 - t + orphans) * SVG_ROW_PX + SVG_NODE_H - 18,
			fabric_view_tier_label(v, t, label, sizeof(label)));
	for (int faults = 0; faults < 2; faults++)
		for (uint32_t l = 0; l < m->nlinks; l++)
			svg_link_write(out, v, pos, l, faults);
	for (uint32_t d = 0; d < m->ndevs; d++) {
		const struct fabric_dev *fd = &v->devs[d];
		const struct suspect *s = fd->suspect >= 0 ? &v->sus.v[fd->suspect] : NULL;
		const char *name = fabric_view_dev_name(v, d);

		fprintf(out, "<g class=\"device%s\" data-name=\"", s ? " fault" : "");
		freport_xml_write(out, name);
		fprintf(out, "\" data-tier=\"%d\"><title>", fd->tier);
		freport_xml_write(out, name);
		fprintf(out, ": tier %d, %llu flows, %llu lossy", fd->tier,
			(unsigned long long)fd->flows, (unsigned long long)fd->lossy_flows);
		if (s)
			fprintf(out, "; SUSPECT %s, %.3g%% loss, confidence %.4f",
				suspect_kind_name(s->kind), 100 * s->loss_ratio, s->confidence);
		fprintf(out, "</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" "
			"rx=\"5\" fill=\"%s\" stroke=\"%s\" stroke-width=\"%d\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
			"fill=\"%s\">",
			pos[d].x - SVG_NODE_W / 2.0, pos[d].y - SVG_NODE_H / 2.0, SVG_NODE_W,
			SVG_NODE_H, s ? FREPORT_FAULT_COLOR : "#f4f6f8", s ? "#7a007a" : "#455a64",
			s ? 3 : 1, pos[d].x, pos[d].y + 4, s ? "#ffffff" : "#111111");
		freport_xml_write(out, name);
		fprintf(out, "</text></g>\n");
	}
	fprintf(out, "</svg>\n");
	free(pos);
	return ferror(out) ? -1 : 0;
}

/* Clock time of a slice; seconds too when slices are shorter than a minute. */
static void svg_hhmm(int64_t ms, char *buf, size_t len, int secs)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, secs ? "%H:%M:%S" : "%H:%M", &tm))
		snprintf(buf, len, "?");
}

int freport_svg_fabric_timeline_write(FILE *out, const struct freport *r)
{
	const double w = 900, h = 160, left = 60, bottom = 130, plot_h = 100;
	double worst = 1e-4, bw;
	char t0[16], pct[32];

	if (!r->nslices)
		return 0;
	for (size_t i = 0; i < r->nslices; i++)
		if (r->slices[i].sent)
			worst = fmax(worst, (double)r->slices[i].lost / (double)r->slices[i].sent);
	bw = (w - left - 20) / (double)r->nslices;
	fprintf(out, "<svg id=\"fabric-timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" font-size=\"11\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n", w, h);
	svg_pct(pct, sizeof(pct), worst);
	fprintf(out, "<text x=\"4\" y=\"%.0f\">%s</text><text x=\"4\" y=\"%.0f\">0%%</text>\n"
		"<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>\n",
		bottom - plot_h + 4, pct, bottom, left, bottom, w - 20, bottom);
	for (size_t i = 0; i < r->nslices; i++) {
		const struct freport_slice *s = &r->slices[i];
		double loss = s->sent ? (double)s->lost / (double)s->sent : 0;
		double bh = fmax(s->sent ? 1 : 0, plot_h * loss / worst);
		double x = left + bw * (double)i;

		svg_pct(pct, sizeof(pct), loss);
		svg_hhmm(s->start_ms, t0, sizeof(t0), s->end_ms - s->start_ms < 60000);
		fprintf(out, "<rect class=\"slice\" data-start-ms=\"%" PRId64 "\" data-loss=\"%.6g\" "
			"x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
			"<title>%s UTC: %s loss of %llu probes, %zu suspects%s</title></rect>\n",
			s->start_ms, loss, x + 1, bottom - bh, fmax(1, bw - 2), bh,
			s->sent ? freport_loss_color(loss) : "#dddddd", t0, pct,
			(unsigned long long)s->sent, s->nsuspects, s->sent ? "" : " (no data)");
		if (s->nsuspects)
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\""
				FREPORT_FAULT_COLOR "\"/>\n", x + bw / 2, bottom - bh - 8);
		if (i % (r->nslices > 12 ? r->nslices / 8 : 1) == 0)
			fprintf(out, "<text x=\"%.1f\" y=\"%.0f\">%s</text>\n", x, bottom + 16, t0);
	}
	fprintf(out, "</svg>\n");
	return ferror(out) ? -1 : 0;
}

int freport_svg_suspect_timeline_write(FILE *out, const struct freport *r,
				       const struct freport_suspect *s)
{
	const double w = 360, h = 22;
	double cw;
	char t0[16], pct[32];

	if (!r->nslices)
		return 0;
	cw = w / (double)r->nslices;
	fprintf(out, "<svg class=\"suspect-timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
		"width=\"%.0f\" height=\"%.0f\">\n", w, h);
	for (size_t i = 0; i < r->nslices; i++) {
		double loss = s->slice_loss[i];
		/* stronger colour for louder loss, on a log scale from 0.01% */
		double op = loss < 0 ? 0 : fmin(1, 0.35 + 0.65 * fmax(0, log10(loss / 1e-4)) / 3);

		svg_hhmm(r->slices[i].start_ms, t0, sizeof(t0),
			 r->slices[i].end_ms - r->slices[i].start_ms < 60000);
		svg_pct(pct, sizeof(pct), loss < 0 ? 0 : loss);
		fprintf(out, "<rect x=\"%.1f\" y=\"1\" width=\"%.1f\" height=\"%.0f\" "
			"fill=\"%s\" fill-opacity=\"%.2f\" stroke=\"#ffffff\"><title>%s UTC: %s"
			"</title></rect>\n",
			cw * (double)i, cw, h - 2, loss < 0 ? "#e6e6e6" : FREPORT_FAULT_COLOR,
			loss < 0 ? 1 : op, t0, loss < 0 ? "not a suspect" : pct);
	}
	fprintf(out, "</svg>");
	return ferror(out) ? -1 : 0;
}
