// Acting: a confirmation before what is hard to undo (lockdown, unlocking many doors,
// cutting power), and the answer shown beside the control that was used.

const $ = (id) => document.getElementById(id);

/** Asks in a modal dialog; resolves true for "Yes". */
export function confirmAction(message, yes = "Yes") {
  const dialog = $("confirm");
  $("confirm-text").textContent = message;
  $("confirm-yes").textContent = yes;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
}

/** Runs `request()` and writes what came of it into `feedback`; returns the answer or null. */
export async function act(request, feedback, describe = summary) {
  feedback.classList.remove("error");
  feedback.textContent = "…";
  try {
    const answer = await request();
    feedback.textContent = describe(answer);
    return answer;
  } catch (error) {
    feedback.classList.add("error");
    feedback.textContent = "Refused: " + error.message;
    return null;
  }
}

/** The events a command caused, in a few words. */
export function summary(answer) {
  const events = (answer && (answer.events || (answer.kind ? [answer] : []))) || [];
  if (!events.length) return "done";
  return events.map((e) => `${e.kind.replaceAll("_", " ")}${e.reason ? " (" + e.reason.replaceAll("_", " ") + ")" : ""}`).join(", ");
}
