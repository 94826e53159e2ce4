// export/docx.js — a manuscript project as a Word document (.docx, made with the `docx` package),
// for editors, agents and word processors. The same book as the Markdown and EPUB exports: the
// project's title, each act and chapter as a heading (Heading 1 and 2, so Word's navigation pane
// and table of contents find them), the scenes' current text as paragraphs, a centred "* * *"
// between two scenes of a chapter, each chapter on a new page. No settings, keys or revisions.
//
//   const bytes = await projectToDocx(createManuscript({ storage }), projectId);  // Uint8Array
//
// Paragraphs are split at blank lines; a single line break inside one stays a line break.

import { AlignmentType, Document, HeadingLevel, Packer, Paragraph, TextRun } from 'docx';
import { readProject, bookOutline, oneLine, sceneText, SCENE_BREAK } from './markdown.js';

// One paragraph of scene text: its lines joined by line breaks.
function textParagraph(block) {
  const lines = block.split('\n').map((l) => l.trim());
  return new Paragraph({
    children: lines.map((line, i) => new TextRun({ text: line, break: i > 0 ? 1 : 0 })),
    spacing: { after: 160 },
  });
}

/// Project `projectId` of `manuscript` as a .docx file; resolves its bytes. Rejects StorageError
/// 'not_found' when there is no such project.
export async function projectToDocx(manuscript, projectId, { now = Date.now } = {}) {
  const { project, scenes } = await readProject(manuscript, projectId);
  const title = oneLine(project.title) || 'Untitled';
  const children = [new Paragraph({ text: title, heading: HeadingLevel.TITLE, alignment: AlignmentType.CENTER })];
  let firstChapter = true;
  for (const act of bookOutline(project, scenes)) {
    children.push(new Paragraph({ text: act.title, heading: HeadingLevel.HEADING_1, pageBreakBefore: true }));
    for (const chapter of act.chapters) {
      children.push(new Paragraph({ text: chapter.title, heading: HeadingLevel.HEADING_2, pageBreakBefore: !firstChapter }));
      firstChapter = false;
      let first = true;
      for (const scene of chapter.scenes) {
        const text = sceneText(scene);
        if (!text.trim()) continue;
        if (!first) children.push(new Paragraph({ text: SCENE_BREAK, alignment: AlignmentType.CENTER, spacing: { before: 240, after: 240 } }));
        first = false;
        for (const block of text.split(/\n[ \t]*\n\s*/).filter((b) => b.trim())) children.push(textParagraph(block));
      }
    }
  }
  const doc = new Document({
    title, creator: 'Loom', description: `Exported from Loom on ${new Date(now()).toISOString().slice(0, 10)}`,
    sections: [{ children }],
  });
  const blob = await Packer.toBlob(doc);
  return new Uint8Array(await blob.arrayBuffer());
}
