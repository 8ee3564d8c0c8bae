import { initShell } from "./ui.js";

initShell();
