// export/markdown.js — a manuscript project as one Markdown file: the book as it reads, in outline
// order, for a writer to share, print or paste elsewhere. Only the project's outline and its
// scenes' current text are read: no settings, keys or revisions.
//
//   const md = await projectToMarkdown(createManuscript({ storage }), projectId);
//
//   # The Night Ferry            <- the project's title
//   ## Act I                     <- each act (untitled ones: "Act 2")
//   ### Fog                      <- each chapter (untitled ones: "Chapter 3", counted in the book)
//   <!-- scene: Dawn crossing --> <- each scene's title, as an HTML comment: kept in the file, not
//   The ferry left at dawn.         shown when the Markdown is rendered
//
//   * * *                        <- a scene break between two scenes of one chapter
//
//   <!-- scene: Harbour -->
//   ...
//
// Scenes without text (only whitespace) are skipped, and so is their break; a chapter whose scenes
// are all empty keeps its heading. Scene text goes in as written (it may hold Markdown itself);
// line ends become '\n'.

import { StorageError } from '../storage.js';

/// The scene break written between two scenes of a chapter.
export const SCENE_BREAK = '* * *';

/// Reads project `projectId` from `manuscript` (createManuscript()'s result): {project, scenes:
/// Map id -> scene}. Rejects StorageError 'not_found' when there is no such project.
export async function readProject(manuscript, projectId) {
  const project = await manuscript.getProject(projectId);
  if (!project) {
    throw new StorageError('not_found', `Exporting project '${projectId}' failed: there is no such project (it ` +
      'may have been deleted in another tab).');
  }
  const scenes = new Map((await manuscript.scenes(projectId)).map((s) => [s.id, s]));
  return { project, scenes };
}

/// The outline with default titles: [{title, chapters: [{title, scenes: [scene, ...]}]}], scenes
/// in order (those missing from `scenes` are left out). Untitled acts are "Act n" (n counted in the
/// project), untitled chapters "Chapter n" (counted across the whole book).
export function bookOutline(project, scenes) {
  let chapterNumber = 0;
  return project.acts.map((act, i) => ({
    id: act.id,
    title: oneLine(act.title) || `Act ${i + 1}`,
    chapters: act.chapters.map((chapter) => {
      chapterNumber += 1;
      return {
        id: chapter.id,
        title: oneLine(chapter.title) || `Chapter ${chapterNumber}`,
        scenes: chapter.scenes.map((id) => scenes.get(id)).filter(Boolean),
      };
    }),
  }));
}

/// `text` on one line: runs of whitespace (newlines too) as one space, trimmed.
export function oneLine(text) {
  return String(text ?? '').replace(/\s+/g, ' ').trim();
}

/// A scene's text with '\n' line ends and without leading or trailing blank lines; '' when empty.
export function sceneText(scene) {
  return String(scene?.text ?? '').replace(/\r\n?/g, '\n').replace(/^\s*\n/, '').trimEnd();
}

// An HTML comment cannot hold "--" (nor end in "-"): those become "- -" / "- ".
function comment(text) {
  return `<!-- scene: ${oneLine(text).replace(/--/g, '- -').replace(/-$/, '- ')} -->`;
}

/// Project `projectId` of `manuscript` as Markdown (see the top of this file); resolves the text,
/// ending in one newline. Rejects StorageError 'not_found' when there is no such project.
export async function projectToMarkdown(manuscript, projectId) {
  const { project, scenes } = await readProject(manuscript, projectId);
  const blocks = [`# ${oneLine(project.title) || 'Untitled'}`];
  for (const act of bookOutline(project, scenes)) {
    blocks.push(`## ${act.title}`);
    for (const chapter of act.chapters) {
      blocks.push(`### ${chapter.title}`);
      let first = true;
      for (const scene of chapter.scenes) {
        const text = sceneText(scene);
        if (!text.trim()) continue;
        if (!first) blocks.push(SCENE_BREAK);
        first = false;
        blocks.push(oneLine(scene.title) ? `${comment(scene.title)}\n${text}` : text);
      }
    }
  }
  return `${blocks.join('\n\n')}\n`;
}
