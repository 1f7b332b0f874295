/* A palette image decoder. Input: 'P', depth (1, 2, 4 or 8), the number of
 * colours, their RGB triples, then pixels. At depth 8 a pixel indexes the
 * palette directly, checked with > where >= was meant: a pixel equal to
 * the number of colours reads the 3 bytes just past the palette. */
#include "campaign.h"

#include <stdlib.h>
#include <string.h>

void campaign_parse(const uint8_t *data, size_t size) {
  if (size < 4 || data[0] != 'P')
    return;
  unsigned depth = data[1], colors = data[2];
  if (colors == 0 || size < 3 + colors * 3 + 1)
    return;
  uint8_t *palette = malloc(colors * 3);
  memcpy(palette, data + 3, colors * 3);
  const uint8_t *px = data + 3 + colors * 3;
  size_t pixels = size - 3 - colors * 3;
  uint8_t *rgb = malloc(pixels * 3);
  for (size_t i = 0; i < pixels; i++) {
    unsigned idx;
    switch (depth) {
    case 1:
    case 2:
    case 4:
      idx = (px[i] & ((1u << depth) - 1)) % colors;
      break;
    case 8:
      if (px[i] > colors) /* BUG: should be >= */
        idx = 0;
      else
        idx = px[i];
      break;
    default:
      idx = 0;
    }
    memcpy(rgb + i * 3, palette + idx * 3, 3);
  }
  campaign_use(rgb, pixels * 3);
  free(rgb);
  free(palette);
}
